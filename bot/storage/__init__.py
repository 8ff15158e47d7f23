"""Persistence: SQLAlchemy 2 async models, the database engines, migrations and the stores."""
