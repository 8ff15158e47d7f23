from tests.fixtures.databases import database, database_url, sqlite_url  # noqa: F401
