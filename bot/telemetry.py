"""Prometheus series of the gateway, in one registry so tests and multiple apps don't collide.

Names follow Prometheus conventions: ``carebot_`` prefix, ``_total`` for counters, base units
(seconds) in histogram names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_RECEIVED = Counter(
    "carebot_messages_received_total", "Customer messages accepted", ["channel"], registry=REGISTRY
)
MESSAGES_DUPLICATE = Counter(
    "carebot_messages_duplicate_total",
    "Redelivered messages dropped",
    ["channel"],
    registry=REGISTRY,
)
MESSAGES_PROCESSED = Counter(
    "carebot_messages_processed_total",
    "Customer messages handled by the engine, by decision",
    ["channel", "decision"],
    registry=REGISTRY,
)
REPLIES_SENT = Counter(
    "carebot_replies_sent_total",
    "Outbound messages the platform accepted",
    ["channel"],
    registry=REGISTRY,
)
DELIVERY_FAILURES = Counter(
    "carebot_delivery_failures_total",
    "Outbound send attempts that failed",
    ["channel", "permanent"],
    registry=REGISTRY,
)
HANDOFFS = Counter("carebot_handoffs_total", "Handoffs requested", ["reason"], registry=REGISTRY)
PROCESSING_SECONDS = Histogram(
    "carebot_processing_seconds",
    "Time from storing a customer message to queueing the bot's replies",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
FEEDBACK = Counter(
    "carebot_feedback_total",
    "Feedback recorded, by kind (helpful, rating, comment) and rating (1-5, or none)",
    ["channel", "kind", "rating"],
    registry=REGISTRY,
)
REVIEW_ITEMS = Counter(
    "carebot_review_items_total",
    "Customer questions put in the review queue, by reason",
    ["reason"],
    registry=REGISTRY,
)
RESPONSE_SECONDS = Histogram(
    "carebot_response_seconds",
    "Time from a customer turn's first message to the reply that answers it (CONTRACT section 6),"
    " by the channel and who answered (bot or agent); observed when the report turns are folded,"
    " so up to a minute late",
    ["channel", "responder"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
    registry=REGISTRY,
)
