"""The Slack HTTP guard's check of a signed form body reads it as `parse_qs(...,
keep_blank_values=True, strict_parsing=True)` does (which it replaced, issue 22): the same
bodies refused, the same first `payload` found."""

from __future__ import annotations

import json
import random
from urllib.parse import parse_qs, urlencode

from bot.adapters.http_guard import _form_payload


def _as_parse_qs(text: str) -> tuple[bool, str | None]:
    try:
        form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        return False, None
    return True, form["payload"][0] if "payload" in form else None


def _as_guard(text: str) -> tuple[bool, str | None]:
    try:
        return True, _form_payload(text)
    except ValueError:
        return False, None


def test_the_guard_reads_form_bodies_as_parse_qs_does() -> None:
    bodies = [
        "",
        "a",
        "a=",
        "=",
        "&",
        "a=1&",
        "&a=1",
        "a=1&&b=2",
        "a=b=c",
        "payload",
        "payload=",
        "payload=%7B%7D",
        "pay%6Coad=%7B%22a%22%3A1%7D",
        "payload+=x",
        "pay+load=x",
        "payload=1&payload=2",
        "x=%zz&payload=%E9",
        urlencode({"payload": json.dumps({"x": "é&=+"})}),
        urlencode({"command": "/liaison", "text": "a b&c=d", "user_id": "U1"}),
    ]
    rng = random.Random(22)
    bodies += [
        "".join(rng.choice("ap=&%+yl0o2d7B") for _ in range(rng.randint(0, 14)))
        for _ in range(5000)
    ]
    assert [b for b in bodies if _as_guard(b) != _as_parse_qs(b)] == []
