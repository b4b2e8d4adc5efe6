"""The Store port on SQLite."""
