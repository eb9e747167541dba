"""The start-up schema check reads the migrations' heads without importing Alembic; they must be
the heads Alembic itself finds, or a start would skip a migration (or run Alembic for nothing)."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from bot.db import _revision_statements, alembic_config, script_heads


def test_script_heads_are_alembics_heads() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script_heads() == frozenset(script.get_heads())


def test_a_down_revision_over_several_lines_is_read_whole() -> None:
    source = '''"""Merge.

revision of nothing: a docstring line is not a statement
"""
revision: str = "0099_merge"
down_revision: str | tuple[str, ...] | None = (
    "0097_a",
    "0098_b",
)


def upgrade() -> None:
    revision = "not at the top level"
'''
    names = [(s.target.id, s.value.value if hasattr(s.value, "value") else
              [e.value for e in s.value.elts]) for s in _revision_statements(source)]
    assert names == [("revision", "0099_merge"), ("down_revision", ["0097_a", "0098_b"])]
