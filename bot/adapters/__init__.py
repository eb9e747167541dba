"""Adapters: thin translators between a platform and the core. No business rules here."""
