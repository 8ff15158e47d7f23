"""carebot core: the conversation engine, storage, metrics and the gateway application.

Nothing in this package imports ``channels`` or a platform SDK: adapters depend on the core's value
types (:mod:`bot.messages`) and interfaces (:mod:`bot.interfaces`), never the other way round.
"""

__version__ = "0.1.0"
