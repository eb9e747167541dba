"""Slack's message markup decoded to what the person typed, plus the members mentioned."""

from __future__ import annotations

import pytest

from bot.adapters.slack_text import decode

NAMES = {"U1": "Bob"}.get


@pytest.mark.parametrize(("sent", "typed"), [
    ("<mailto:ops@acme.com|ops@acme.com>", "ops@acme.com"),
    ("<https://acme.com>", "https://acme.com"),
    ("<https://acme.com|acme.com>", "acme.com"),
    ("<https://x.com/a?b=1&amp;c=2|the docs>", "the docs (https://x.com/a?b=1&c=2)"),
    ("<#C123|general> and <#C456>", "#general and #C456"),
    ("<!subteam^S1|@ops> <!here> <!date^1392734382^{date}|Feb 18>", "@ops @here Feb 18"),
    ("A &amp; B &lt;x&gt;", "A & B <x>"),
    ("a &amp;lt; b", "a &lt; b"),  # typed literally: decoded once, not twice
    ("客户 <mailto:王@例子.cn|王@例子.cn> 投诉", "客户 王@例子.cn 投诉"),
])
def test_markup_becomes_the_text_people_typed(sent: str, typed: str) -> None:
    assert decode(sent, NAMES) == (typed, ())


def test_mentions_keep_their_ids_and_show_names() -> None:
    text, mentions = decode("<@U1> and <@U2|carol>, again <@U1>", NAMES)
    assert text == "@Bob and @carol, again @Bob"
    assert mentions == ("U1", "U2")
