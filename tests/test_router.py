"""Commands as people type them: quotes, key=value, Chinese aliases, optional slash."""

from __future__ import annotations

import random
import shlex

import pytest

from bot.errors import UserError
from bot.router import Registry, split_words


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.family("complaint", aliases=("投诉",))
    registry.family("help", aliases=("帮助",))

    @registry.command("complaint", "new", aliases=("新建",))
    def new(ctx, args):  # noqa: ANN001, ANN202
        return args

    @registry.command("complaint", "close", aliases=("关闭",), roles=("agent", "admin"))
    def close(ctx, args):  # noqa: ANN001, ANN202
        return args

    @registry.command("help")
    def help_(ctx, args):  # noqa: ANN001, ANN202
        return args

    return registry


def test_quoted_values_and_keywords(registry: Registry) -> None:
    parsed = registry.parse('/complaint new customer="ACME Ltd" severity=high')
    assert parsed.command.key == "complaint new"
    assert parsed.args.keywords == {"customer": "ACME Ltd", "severity": "high"}


def test_chinese_aliases_quotes_and_no_slash(registry: Registry) -> None:
    parsed = registry.parse("投诉 新建 customer=“华为 终端” 严重=高")
    assert parsed.command.key == "complaint new"
    assert parsed.args.keywords == {"customer": "华为 终端", "严重": "高"}
    assert registry.looks_like_command("投诉 新建")
    assert registry.looks_like_command("/anything")
    assert not registry.looks_like_command("ACME Ltd")


def test_free_text_after_words_is_kept_as_typed(registry: Registry) -> None:
    parsed = registry.parse("/complaint close C-2026-0001 客户  已满意,  谢谢")
    assert parsed.args.positional[0] == "C-2026-0001"
    assert parsed.args.text_after(1) == "客户  已满意,  谢谢"


def test_family_default_command(registry: Registry) -> None:
    parsed = registry.parse("help complaint")
    assert parsed.command.key == "help" and parsed.args.positional == ("complaint",)


def test_unknown_commands_suggest_the_closest(registry: Registry) -> None:
    with pytest.raises(UserError) as exc:
        registry.parse("/complain new")
    assert exc.value.template == "errors/unknown_command"
    assert exc.value.params["suggestions"] == ["complaint"]
    with pytest.raises(UserError) as exc:
        registry.parse("/complaint nwe")
    assert exc.value.template == "errors/unknown_subcommand"
    assert exc.value.params["suggestions"] == ["complaint new"]


def test_family_help_word_shows_the_family_help(registry: Registry) -> None:
    for text in ("/complaint help", "投诉 帮助", "complaint ?"):
        parsed = registry.parse(text)
        assert parsed.command.key == "help"
        assert parsed.args.positional == ("complaint",)


def test_malformed_and_too_long(registry: Registry) -> None:
    with pytest.raises(UserError) as exc:
        registry.parse('/complaint new customer="ACME')
    assert exc.value.template == "errors/malformed"
    with pytest.raises(UserError) as exc:
        registry.parse("/complaint new " + "x" * 4000)
    assert exc.value.template == "errors/too_long"


def test_help_is_filtered_by_role(registry: Registry) -> None:
    staff = {fam.name: [c.key for c in cmds] for fam, cmds in registry.visible({"staff"})}
    agent = {fam.name: [c.key for c in cmds] for fam, cmds in registry.visible({"agent"})}
    assert "complaint close" not in staff["complaint"]
    assert "complaint close" in agent["complaint"]


def test_words_split_as_shlex_splits_them() -> None:
    # The fast path for texts without quotes or backslashes must split exactly as shlex:
    # on its four whitespace characters only (not a full-width space, not U+00A0).
    alphabet = [*"ab 中文\t\r\n\u3000\x0b\x0c\xa0=/-#;|&$()*?~", "\u2028", "\x85", "'", '"', "\\"]
    rng = random.Random(22)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            expected = shlex.split(text)
        except ValueError:
            with pytest.raises(ValueError):
                split_words(text)
            continue
        assert split_words(text) == expected, repr(text)
