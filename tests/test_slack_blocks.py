"""Rendered messages as Block Kit, within Slack's limits."""

from __future__ import annotations

from bot.adapters.slack_blocks import (
    BLOCK_LIMIT,
    SECTION_LIMIT,
    answered,
    chunks,
    combine,
    message_payloads,
    to_blocks,
)
from bot.messages import Rendered, RenderedChoice
from tests.fakes.slack_api import block_errors


def test_title_body_and_buttons() -> None:
    message = Rendered(
        title="Complaint C-1 &amp; more", body="*high* · ACME &lt;Ltd&gt;",
        choices=(RenderedChoice("yes", "Confirm", "primary"),
                 RenderedChoice("cancel", "Cancel &amp; drop", "danger")),
    )
    header, section, actions = to_blocks(message)
    # Plain text shows characters as they are, so the entities are decoded there only.
    assert header == {"type": "header",
                      "text": {"type": "plain_text", "text": "Complaint C-1 & more"}}
    assert section["text"] == {"type": "mrkdwn", "text": "*high* · ACME &lt;Ltd&gt;"}
    assert [(b["value"], b["text"]["text"], b["style"]) for b in actions["elements"]] == [
        ("yes", "Confirm", "primary"), ("cancel", "Cancel & drop", "danger")]
    assert message_payloads(message)[0]["text"].startswith("Complaint C-1")


def test_a_long_message_is_split_into_several_and_nothing_is_dropped() -> None:
    body = "\n".join(f"line {n} " + "x" * 200 for n in range(2000))
    choices = tuple(RenderedChoice(str(n), f"option {n}") for n in range(30))
    parts = message_payloads(Rendered(title="", body=body, choices=choices))
    assert len(parts) > 1
    for part in parts:  # each one a message Slack takes
        assert len(part["blocks"]) <= BLOCK_LIMIT and block_errors(part["blocks"], 50) is None
        assert part["text"].strip()
    blocks = [b for part in parts for b in part["blocks"]]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= SECTION_LIMIT for text in sections)
    assert "\n".join(sections) == body  # every line, in order
    actions = [b for b in blocks if b["type"] == "actions"]
    # Slack takes 25 elements per actions block; all 30 choices stay usable, at the end.
    assert [len(a["elements"]) for a in actions] == [25, 5]
    assert parts[-1]["blocks"][-1]["type"] == "actions"


def test_one_enormous_line_is_cut_to_fit() -> None:
    blocks = to_blocks(Rendered(title="", body="y" * (SECTION_LIMIT * 2 + 10)))
    assert [len(b["text"]["text"]) for b in blocks] == [SECTION_LIMIT, SECTION_LIMIT, 10]


def test_a_long_line_is_never_cut_inside_an_entity_or_a_mention() -> None:
    for offset in range(12):
        line = "z" * offset + "".join(f"A&amp;B<@U{n:04d}>" for n in range(400))
        pieces = chunks(line, 100)
        assert "".join(pieces) == line
        for piece in pieces:
            assert len(piece) <= 100
            assert piece.count("<") == piece.count(">"), piece
            assert "&amp;" in piece and not piece.endswith(("&", "&a", "&am", "&amp")), piece


def test_several_replies_in_one_command_response() -> None:
    [payload] = combine([Rendered(title="", body="one"), Rendered(title="", body="two")])
    assert [b["type"] for b in payload["blocks"]] == ["section", "divider", "section"]
    assert payload["text"] == "one\n\ntwo"


def test_combined_replies_past_the_block_limit_keep_every_button() -> None:
    long = Rendered(title="", body="\n".join("x" * 2900 for _ in range(60)))
    question = Rendered(title="", body="Which?", choices=(RenderedChoice("a", "A"),))
    parts = combine([long, question])
    assert len(parts) == 2 and all(len(p["blocks"]) <= BLOCK_LIMIT for p in parts)
    assert parts[-1]["blocks"][-1]["elements"][0]["value"] == "a"


def test_an_answered_question_loses_its_buttons() -> None:
    blocks = to_blocks(Rendered(title="", body="Which?", choices=(RenderedChoice("a", "A"),)))
    after = answered(blocks, "A")
    assert [b["type"] for b in after] == ["section", "context"]
    assert after[-1]["elements"][0]["text"] == "✓ A"


def test_tasks_run_in_order_per_member_and_members_do_not_wait_for_each_other() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from bot.adapters.slack import SerialByKey

    pool = ThreadPoolExecutor(max_workers=8)
    serial = SerialByKey(pool)
    gate = threading.Event()
    seen: list[int] = []
    first = serial.submit("alice", gate.wait, 10)
    later = [serial.submit("alice", seen.append, n) for n in range(20)]
    # Bob is not held up by Alice's slow first message.
    assert serial.submit("bob", lambda: "bob").result(timeout=5) == "bob"
    assert seen == []
    gate.set()
    first.result(timeout=5)
    for future in later:
        future.result(timeout=5)
    assert seen == list(range(20))
    failing = serial.submit("alice", lambda: 1 / 0)
    assert isinstance(failing.exception(timeout=5), ZeroDivisionError)
    assert serial.submit("alice", lambda: "still served").result(timeout=5) == "still served"
    pool.shutdown()
