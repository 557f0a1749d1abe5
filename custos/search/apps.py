from django.apps import AppConfig


class SearchConfig(AppConfig):
    """One search for companies, contacts, leads and deals: SQLite FTS5 or PostgreSQL trigrams."""

    name = "custos.search"
    label = "search"
