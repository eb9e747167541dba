"""Every sentence comes from templates in both languages, and user text stays text."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

import handlers
from bot.messages import Mention, Reply
from bot.render import LOCALES, Renderer
from bot.router import Registry


def _flatten(labels: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in labels.items():
        if isinstance(value, dict):
            keys |= _flatten(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_every_template_exists_in_both_locales() -> None:
    renderer = Renderer()
    zh, en = renderer.template_names("zh"), renderer.template_names("en")
    assert zh, "no templates found"
    assert zh - en == set(), f"only in zh: {sorted(zh - en)}"
    assert en - zh == set(), f"only in en: {sorted(en - zh)}"


def test_every_label_exists_in_both_locales() -> None:
    renderer = Renderer()
    zh, en = _flatten(renderer._labels["zh"]), _flatten(renderer._labels["en"])
    assert zh - en == set(), f"labels only in zh: {sorted(zh - en)}"
    assert en - zh == set(), f"labels only in en: {sorted(en - zh)}"


def test_every_command_has_a_help_line_in_both_locales() -> None:
    import handlers

    registry = Registry()
    handlers.register_all(registry)
    renderer = Renderer()
    for family in registry.families.values():
        for command in family.commands.values():
            for locale in LOCALES:
                assert renderer.has_label(locale, command.usage_key), (locale, command.key)
                assert renderer.has_label(locale, family.label_key), (locale, family.name)


HOSTILE = "<!channel> {{ 7*7 }} {% raw %} <@U999> [x](http://evil) @所有人"


@pytest.mark.parametrize("locale", LOCALES)
def test_user_text_is_escaped_for_slack(locale: str) -> None:
    renderer = Renderer()
    reply = Reply("errors/not_understood", {"text": HOSTILE})
    out = renderer.render(reply, locale=locale, platform="slack", zone=ZoneInfo("UTC"))
    assert "<!channel>" not in out.text and "&lt;!channel&gt;" in out.text
    assert "<@U999>" not in out.text
    assert "{{ 7*7 }}" in out.text and "49" not in out.text


def test_user_text_is_inert_on_the_console() -> None:
    # DingTalk and the other dialects: tests/test_dialects.py.
    renderer = Renderer()
    console = renderer.render(
        Reply("errors/not_understood", {"text": "a\x1b[31mred\u202e"}),
        locale="en", platform="console", zone=ZoneInfo("UTC"),
    ).text
    assert "\x1b" not in console and "\u202e" not in console


def test_a_mention_made_by_the_bot_is_a_real_mention() -> None:
    renderer = Renderer()
    reply = Reply("system/role_granted", {"name": Mention("slack", "U42", "<b>"),
                                          "role": "agent", "changed": True})
    out = renderer.render(reply, locale="en", platform="slack", zone=ZoneInfo("UTC"))
    assert out.text.startswith("<@U42> is now agent")


def test_missing_values_fail_loudly() -> None:
    renderer = Renderer()
    with pytest.raises(Exception, match="undefined"):
        renderer.render(Reply("errors/not_understood", {}), locale="en", platform="console",
                        zone=ZoneInfo("UTC"))


def test_dates_are_shown_in_the_readers_zone_and_language() -> None:
    from datetime import UTC, datetime

    renderer = Renderer()
    now = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    zh = renderer.render(Reply("system/tz_set", {"zone": "Asia/Shanghai", "now": now}),
                         locale="zh", platform="console", zone=ZoneInfo("Asia/Shanghai"))
    en = renderer.render(Reply("system/tz_set", {"zone": "America/New_York", "now": now}),
                         locale="en", platform="console", zone=ZoneInfo("America/New_York"))
    assert "2026年12月1日 周二 15:00 (Asia/Shanghai)" in zh.text
    assert "Tue 1 Dec 2026, 02:00 (America/New_York)" in en.text


@pytest.mark.parametrize(("platform", "direct", "en", "zh"), [
    ("console", True, "Usage: /lang zh or /lang en.", "用法:/lang zh 或 /lang en。"),
    ("slack", False, "Usage: /liaison lang zh or /liaison lang en.",
     "用法:/liaison lang zh 或 /liaison lang en。"),
    ("slack", True, "Usage: lang zh or lang en.", "用法:lang zh 或 lang en。"),
    ("dingtalk", False, "Usage: @Helper /lang zh or @Helper /lang en.",
     "用法:@Helper /lang zh 或 @Helper /lang en。"),
    ("dingtalk", True, "Usage: /lang zh or /lang en.", "用法:/lang zh 或 /lang en。"),
])
def test_commands_are_named_as_they_are_typed_where_the_reply_goes(
    platform: str, direct: bool, en: str, zh: str,
) -> None:
    registry = Registry()
    handlers.register_all(registry)
    renderer = Renderer(bot_names={"dingtalk": "Helper"})
    renderer.use_commands(registry.slack_commands, registry.app_command)  # as the core does
    for locale, expected in (("en", en), ("zh", zh)):
        out = renderer.render(Reply("system/lang_usage", {"current": "en"}), locale=locale,
                              platform=platform, zone=ZoneInfo("UTC"), direct=direct)
        assert out.text.startswith(expected), out.text
    # A family with its own slash command keeps it on Slack, in a channel and in the DM;
    # labels (help lines) name commands the same way.
    for direct_ in (False, True):
        out = renderer.render(Reply("help/family", {"family": "families.tz", "aliases": [],
                                                    "commands": ["cmd.tz.main"]}),
                              locale="en", platform="slack", zone=ZoneInfo("UTC"),
                              direct=direct_)
        shown = "e.g. tz Europe/London" if direct_ else "e.g. /liaison tz Europe/London"
        assert shown in out.text
    out = renderer.render(Reply("reminders/not_found", {"id": "9"}), locale="en",
                          platform="slack", zone=ZoneInfo("UTC"))
    assert "Send /reminders list" in out.text


def test_placeholders_in_templates_are_not_slack_link_syntax() -> None:
    renderer = Renderer()
    for locale, word in (("en", "&lt;reason&gt;"), ("zh", "&lt;理由&gt;")):
        out = renderer.render(Reply("talking_points/reject_usage", {"id": 3}), locale=locale,
                              platform="slack", zone=ZoneInfo("UTC"))
        assert word in out.text
        console = renderer.render(Reply("talking_points/reject_usage", {"id": 3}),
                                  locale=locale, platform="console", zone=ZoneInfo("UTC"))
        assert word.replace("&lt;", "<").replace("&gt;", ">") in console.text
