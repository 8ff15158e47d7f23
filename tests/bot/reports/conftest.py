from tests.fixtures.databases import (  # noqa: F401
    database,
    database_url,
    migrated_postgres_template,
    sqlite_url,
)
