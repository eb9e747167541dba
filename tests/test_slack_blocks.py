"""Rendered messages as Block Kit, within Slack's limits."""

from __future__ import annotations

from bot.adapters.slack_blocks import (
    BLOCK_LIMIT,
    SECTION_LIMIT,
    answered,
    combine,
    message_payload,
    to_blocks,
)
from bot.messages import Rendered, RenderedChoice


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
    assert message_payload(message)["text"].startswith("Complaint C-1")


def test_a_long_body_is_split_into_sections_and_never_past_the_block_limit() -> None:
    body = "\n".join(f"line {n} " + "x" * 200 for n in range(2000))
    choices = tuple(RenderedChoice(str(n), f"option {n}") for n in range(30))
    blocks = to_blocks(Rendered(title="", body=body, choices=choices))
    assert len(blocks) <= BLOCK_LIMIT
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    actions = [b for b in blocks if b["type"] == "actions"]
    # Slack takes 25 elements per actions block; all 30 choices stay usable.
    assert [len(a["elements"]) for a in actions] == [25, 5]
    assert len({e["action_id"] for a in actions for e in a["elements"]}) == 30


def test_one_enormous_line_is_cut_to_fit() -> None:
    blocks = to_blocks(Rendered(title="", body="y" * (SECTION_LIMIT * 2 + 10)))
    assert [len(b["text"]["text"]) for b in blocks] == [SECTION_LIMIT, SECTION_LIMIT, 10]


def test_several_replies_in_one_command_response() -> None:
    payload = combine([Rendered(title="", body="one"), Rendered(title="", body="two")])
    assert [b["type"] for b in payload["blocks"]] == ["section", "divider", "section"]
    assert payload["text"] == "one\n\ntwo"


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
