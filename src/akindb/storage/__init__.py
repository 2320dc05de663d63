"""Durable storage: SQLite (the truth), atomic file writes for derived index files."""
