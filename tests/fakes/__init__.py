"""Fake platform servers for adapter tests: real servers on 127.0.0.1, free ports, in threads."""
