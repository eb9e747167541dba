"""Buttons as each platform shows them: a label named by key is looked up and escaped once per
place (`Renderer._choice`), and comes out as looking it up and escaping it each time did."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.dialects import dialect_for
from bot.messages import Choice, Reply
from bot.render import LOCALES, Renderer
from tests.support import TEST_TEMPLATES

PLATFORMS = ("console", "slack", "dingtalk")


def _keys(labels: Any, prefix: str = "") -> list[str]:
    """Every label key whose value is text."""
    if isinstance(labels, str):
        return [prefix]
    if isinstance(labels, dict):
        return [k for name, value in labels.items() if isinstance(name, str)
                for k in _keys(value, f"{prefix}.{name}" if prefix else name)]
    return []


def _choices(renderer: Renderer, choices: list[Choice], locale: str, platform: str):  # noqa: ANN202
    return renderer.render(Reply("system/lang_usage", {"current": "en"}, choices=choices),
                           locale=locale, platform=platform, zone=ZoneInfo("UTC")).choices


def test_every_label_as_a_button_is_shown_as_looked_up_and_escaped_each_time() -> None:
    renderer = Renderer(extra=[TEST_TEMPLATES])
    for locale in LOCALES:
        keys = _keys(renderer._labels[locale])
        assert len(keys) > 100
        choices = [Choice(f"/x {i}", key, style="primary" if i % 2 else None)
                   for i, key in enumerate(keys)]
        for platform in PLATFORMS:
            escape = dialect_for(platform).escape
            expected = [(f"/x {i}", escape(renderer.label(locale, key)),
                         "primary" if i % 2 else None) for i, key in enumerate(keys)]
            for _ in range(2):  # the second time from what the first kept
                shown = _choices(renderer, choices, locale, platform)
                assert [(c.value, c.label, c.style) for c in shown] == expected


def test_a_buttons_ref_and_literal_text_are_shown_as_given_on_each_platform() -> None:
    renderer = Renderer(extra=[TEST_TEMPLATES])
    hostile = "<!channel> *x* [a](b) \u202e@all &amp;"
    for platform in PLATFORMS:
        escape = dialect_for(platform).escape
        for ref in ("C-2026-0001", hostile):
            literal = Choice("/a", hostile + ref, literal=True)
            shown = _choices(renderer, [literal, literal], "en", platform)
            assert [c.label for c in shown] == [escape(hostile + ref)] * 2
