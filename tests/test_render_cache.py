"""What the renderer keeps between replies (helpers per place, templates by name) never makes a
reply say what an earlier one, or an earlier setting, called for."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.messages import Reply
from bot.render import Renderer
from tests.support import TEST_TEMPLATES

UTC_ZONE = ZoneInfo("UTC")


def _lang_usage(renderer: Renderer, platform: str, direct: bool = False) -> str:
    return renderer.render(
        Reply("system/lang_usage", {"current": "en"}),
        locale="en",
        platform=platform,
        zone=UTC_ZONE,
        direct=direct,
    ).text


def test_commands_set_after_a_reply_are_the_ones_named() -> None:
    renderer = Renderer()
    assert _lang_usage(renderer, "slack").startswith("Usage: /liaison lang zh")
    renderer.use_commands({"lang": "/language"}, "/bot")
    assert _lang_usage(renderer, "slack").startswith("Usage: /language zh")
    renderer.use_commands({}, "/bot")
    assert _lang_usage(renderer, "slack").startswith("Usage: /bot lang zh")
    assert _lang_usage(renderer, "slack", direct=True).startswith("Usage: lang zh")
    renderer.slash = {"lang": "/lg"}  # set without use_commands: still the one named
    assert _lang_usage(renderer, "slack").startswith("Usage: /lg zh")


def test_the_bots_name_is_the_one_set_now() -> None:
    renderer = Renderer(bot_names={"dingtalk": "Helper"})
    assert _lang_usage(renderer, "dingtalk").startswith("Usage: @Helper /lang zh")
    renderer.bot_names["dingtalk"] = "Other <b>"
    # The name is escaped for DingTalk (a `<` opening a tag gets a zero-width joiner).
    assert _lang_usage(renderer, "dingtalk").startswith("Usage: @Other <\u200db> /lang zh")


def test_a_replys_time_notes_and_title_stay_its_own() -> None:
    renderer = Renderer("en", extra=[TEST_TEMPLATES])
    at = "2026-12-01T07:00:00+00:00"
    answers = {"who": "ACME", "at": at}

    def summary(notes: list[dict]) -> str:
        out = renderer.render(
            Reply("test/summary", {"answers": answers, "time_notes": notes}),
            locale="en",
            platform="console",
            zone=UTC_ZONE,
        )
        assert out.title == "Please confirm"
        return out.body

    plain = summary([])
    assert "about" not in plain
    assert "about" in summary([{"at": at, "approximate": True}])
    assert summary([]) == plain  # the notes went with their reply
    other = renderer.render(
        Reply("system/lang_usage", {"current": "en"}),
        locale="en",
        platform="console",
        zone=UTC_ZONE,
    )
    assert other.title == ""
    # The same place in another zone: its own helpers.
    london = renderer.render(
        Reply("test/summary", {"answers": answers}),
        locale="en",
        platform="console",
        zone=ZoneInfo("Europe/London"),
    )
    assert "(Europe/London)" in london.body and "(UTC)" in plain


def test_an_edited_template_is_read_again_only_with_auto_reload(tmp_path: Path) -> None:
    """Templates do not change while the bot runs (the renderer sets auto_reload=False, so
    Jinja would not look at the file again either); with auto_reload on, an edit shows."""
    path = tmp_path / "en" / "scratch" / "note.j2"
    path.parent.mkdir(parents=True)
    path.write_text("first {{ x }}", encoding="utf-8")
    renderer = Renderer("en", extra=[tmp_path])

    def text() -> str:
        return renderer.render(
            Reply("scratch/note", {"x": "<!channel>"}), locale="en", platform="slack", zone=UTC_ZONE
        ).text

    assert text() == "first &lt;!channel&gt;"
    path.write_text("second {{ x }}", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert text() == "first &lt;!channel&gt;"
    renderer.env.auto_reload = True
    assert text() == "second &lt;!channel&gt;"


def test_a_template_is_given_no_globals_that_every_template_would_then_see() -> None:
    renderer = Renderer("en")
    renderer.env.get_template("en/system/lang_usage.j2")
    with pytest.raises(TypeError):
        renderer.env.get_template("en/system/lang_usage.j2", globals={"injected": 1})
    assert "injected" not in renderer.env.globals


def test_the_app_command_set_directly_is_the_one_named() -> None:
    renderer = Renderer()

    def usage() -> str:
        return renderer.render(Reply("system/lang_usage", {"current": "en"}), locale="en",
                               platform="slack", zone=ZoneInfo("UTC")).text

    assert usage().startswith("Usage: /liaison lang zh")
    renderer.app_command = "/bot"  # set directly, not by use_commands (which clears the kept)
    assert usage().startswith("Usage: /bot lang zh")
