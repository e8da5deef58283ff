"""Tests of the pharmacy: knowledge, catalog, orders, store (SQLite and PostgreSQL), pages, browser journeys."""
