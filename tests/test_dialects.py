"""What user text becomes on each platform, character for character, and every template as
DingTalk shows it: no backslash and no HTML entity the person did not type, and nothing they
typed turns into markup, a link or a mention."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import ChainableUndefined

from bot.adapters.dingtalk import markdown
from bot.dialects import CONSOLE, DINGTALK, SLACK, resolve_mentions
from bot.messages import Choice, Mention, Reply
from bot.render import LOCALES, Renderer, _Helpers

J = "\u200d"  # zero-width joiner: invisible, and enough to keep DingTalk from forming markup

# (typed, console, Slack, DingTalk)
TABLE = [
    ("时间:2026年11月28日 周六 15:00 (Asia/Shanghai)",) * 4,
    ("/help [命令] zh|en",) * 4,
    ("合作伙伴 A&B", "合作伙伴 A&B", "合作伙伴 A&amp;B", "合作伙伴 A&B"),
    ("see [x](http://evil) and ![p](http://evil/p.png)",
     "see [x](http://evil) and ![p](http://evil/p.png)",
     "see [x](http://evil) and ![p](http://evil/p.png)",
     f"see [x]{J}(http://evil) and ![p]{J}(http://evil/p.png)"),
    ("[命令]", "[命令]", "[命令]", f"[命令]{J}"),
    ("**big** and *it* 3*4", "**big** and *it* 3*4", "**big** and *it* 3*4",
     "＊＊big＊＊ and ＊it＊ 3＊4"),
    ("# 标题\n> 引用\n  #tag a#b a>b", "# 标题\n> 引用\n  #tag a#b a>b",
     "# 标题\n&gt; 引用\n  #tag a#b a&gt;b", f"{J}# 标题\n{J}> 引用\n  {J}#tag a#b a>b"),
    ("<font color=red>红</font> a < b <3", "<font color=red>红</font> a < b <3",
     "&lt;font color=red&gt;红&lt;/font&gt; a &lt; b &lt;3",
     f"<{J}font color=red>红<{J}/font> a < b <3"),
    ("<!channel> <@U999> {{ 7*7 }}", "<!channel> <@U999> {{ 7*7 }}",
     "&lt;!channel&gt; &lt;@U999&gt; {{ 7*7 }}", f"<{J}!channel> <@U999> {{{{ 7＊7 }}}}"),
    ("@所有人 @manager4521 mail bob@acme.com", "@所有人 @manager4521 mail bob@acme.com",
     "@所有人 @manager4521 mail bob@acme.com",
     f"@{J}所有人 @{J}manager4521 mail bob@acme.com"),
    ("typed: C:\\temp &amp; `code` ~~s~~ _u_ - item 1. one",
     "typed: C:\\temp &amp; `code` ~~s~~ _u_ - item 1. one",
     "typed: C:\\temp &amp;amp; `code` ~~s~~ _u_ - item 1. one",
     "typed: C:\\temp &amp; `code` ~~s~~ _u_ - item 1. one"),
    ("red\x1b[31m\u202e\x1e\x1fforged", "red[31mforged", "red[31mforged", "red[31mforged"),
]


@pytest.mark.parametrize(("typed", "console", "slack", "dingtalk"), TABLE)
def test_each_dialect_shows_user_text_exactly_so(typed, console, slack, dingtalk) -> None:
    assert CONSOLE.escape(typed) == console
    assert SLACK.escape(typed) == slack
    assert DINGTALK.escape(typed) == dingtalk


@pytest.mark.parametrize(("typed", "console", "slack", "dingtalk"), TABLE)
def test_a_rendered_message_carries_the_same_text(typed, console, slack, dingtalk) -> None:
    renderer = Renderer()
    reply = Reply("errors/not_understood", {"text": typed})
    zone = ZoneInfo("UTC")
    for platform, expected in (("console", console), ("slack", slack), ("dingtalk", dingtalk)):
        text = renderer.render(reply, locale="en", platform=platform, zone=zone).text
        assert expected in text, platform


def test_the_dates_and_commands_of_a_message_read_as_typed_on_dingtalk() -> None:
    renderer = Renderer()
    at = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    out = renderer.render(Reply("system/tz_set", {"zone": "Asia/Shanghai", "now": at}),
                          locale="zh", platform="dingtalk", zone=ZoneInfo("Asia/Shanghai"))
    assert "2026年11月28日 周六 15:00 (Asia/Shanghai)" in out.text
    families = [{"label": "families.help", "commands": ["cmd.help.main", "cmd.lang.main"]}]
    # Commands as typed there: in the robot's DM plainly, in a group after a real @mention.
    for direct, prefix in ((True, ""), (False, "@Liaison ")):
        help_text = renderer.render(Reply("help/index", {"families": families}), locale="zh",
                                    platform="dingtalk", zone=ZoneInfo("Asia/Shanghai"),
                                    direct=direct).text
        assert f"• {prefix}/help [命令] — 显示可用命令" in help_text
        assert f"• {prefix}/lang zh|en — " in help_text
        assert "\\" not in help_text


def test_a_mention_is_a_name_through_the_openapi_and_an_at_through_a_webhook() -> None:
    renderer = Renderer()
    reply = Reply("system/role_granted", {"name": Mention("dingtalk", "manager4521", "王经理"),
                                          "role": "agent", "changed": True})
    out = renderer.render(reply, locale="zh", platform="dingtalk", zone=ZoneInfo("UTC"))
    _, text = markdown(out)
    named, _ = resolve_mentions(text, by_id=False)
    assert "@王经理" in named and "manager4521" not in named
    at, ids = resolve_mentions(text, by_id=True)
    assert "@manager4521" in at and ids == ["manager4521"]


# -- every template ------------------------------------------------------------------------------

# What a person might type, hostile and ordinary, including a backslash and an entity of their own.
SAMPLE = "A&B (x) [y](z) **b** <font color=red> #t @所有人 C:\\temp &amp;"
SHOWN = DINGTALK.escape(SAMPLE)
AS_LINK = SHOWN.replace("[", "［").replace("]", "］")  # as the text of a tappable choice
ENTITY = re.compile(r"&(?:[a-z]+|#\d+|#x[0-9a-f]+);", re.IGNORECASE)


class _Typed(ChainableUndefined):
    """Every value a template reads is the sample text: truthy, with any attribute, callable,
    comparable and iterable (as nothing), so each template renders whatever it is given."""

    __slots__ = ()

    def __str__(self) -> str:
        return SAMPLE

    def __bool__(self) -> bool:
        return True

    def __call__(self, *args: Any, **kwargs: Any) -> _Typed:
        return self

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __lt__(self, other: object) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__

    def __add__(self, other: object) -> _Typed:
        return self

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __mod__ = __add__

    def __int__(self) -> int:
        return 1


@pytest.fixture
def typed_renderer(monkeypatch) -> Renderer:
    renderer = Renderer()
    renderer.env.undefined = _Typed
    when, duration, label = _Helpers.when, _Helpers.duration, _Helpers.t
    at = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)

    def t(self, key: str, default: str | None = None, **fmt: Any) -> str:
        if SAMPLE in key:  # `t('complaints.status.' ~ c.status)`: take the first status
            prefix = key.split(SAMPLE)[0].rstrip(".")
            key = f"{prefix}.{next(iter(self.renderer.label(self.locale, prefix)))}"
        return label(self, key, default, **fmt)

    monkeypatch.setattr(_Helpers, "t", t)
    monkeypatch.setattr(_Helpers, "when", lambda self, value, with_zone=True: when(
        self, at if isinstance(value, _Typed) else value, with_zone))
    monkeypatch.setattr(_Helpers, "duration", lambda self, value: duration(
        self, 5400 if isinstance(value, _Typed) else value))
    return renderer


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_on_dingtalk_has_no_backslash_or_entity_nobody_typed(
    typed_renderer, locale
) -> None:
    names = sorted(typed_renderer.template_names(locale))
    showing = 0
    for name in names:
        reply = Reply(name, {}, choices=[Choice("yes", "words.confirm"), Choice("x", SAMPLE,
                                                                            literal=True)])
        out = typed_renderer.render(reply, locale=locale, platform="dingtalk",
                                    zone=ZoneInfo("Asia/Shanghai"))
        for tappable in (False, True):
            _, text = markdown(out, tappable=tappable)
            text, _ = resolve_mentions(text, by_id=False)
            showing += SHOWN in text
            rest = text.replace(SHOWN, "").replace(AS_LINK, "")
            assert "\\" not in rest, (name, rest)
            assert not ENTITY.search(rest), (name, rest)
            for markup in ("[y](z)", "**b**", "<font", "@所有人"):
                assert markup not in text, (name, markup, text)
    # The sample is what most templates show somewhere, so the checks above saw it.
    assert showing > len(names)
