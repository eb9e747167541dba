"""Liaison: the external-relations handbook as a chat bot."""

__version__ = "0.1.0"
