"""The checklist's rules on their own: ids, words, the state that follows from the ticks, and
when reminders are due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from handlers.comm import rules
from handlers.comm.rules import State

T = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@dataclass
class Rec:
    contact_at: datetime | None = None
    message_at: datetime | None = None
    feedback_done_at: datetime | None = None
    followup_at: datetime | None = None
    reviewed_at: datetime | None = None


@pytest.mark.parametrize("text, ref", [
    ("K-2026-0001", "K-2026-0001"), ("k-2026-1", "K-2026-0001"), ("K20260012", "K-2026-0012"),
    ("#K-2026-0007", "K-2026-0007"), ("K-2026-12345", "K-2026-12345"),
    ("C-2026-0001", None), ("K-26-1", None), ("", None), (None, None),
])
def test_ids(text, ref) -> None:  # noqa: ANN001
    assert rules.IDS.parse(text) == ref


def test_ids_of_full_width_digits_are_read() -> None:
    assert rules.IDS.parse("Ｋ－２０２６－０００３") == "K-2026-0003"


@pytest.mark.parametrize("ticks, state", [
    ({}, State.PREPARED),
    ({"followup_at": T}, State.EXECUTING),
    ({"contact_at": T, "message_at": T, "feedback_done_at": T}, State.EXECUTING),
    ({"contact_at": T, "message_at": T, "feedback_done_at": T, "followup_at": T},
     State.EXECUTED),
    ({"contact_at": T, "message_at": T, "feedback_done_at": T, "followup_at": T,
      "reviewed_at": T}, State.REVIEWED),
])
def test_the_state_follows_from_the_checklist(ticks, state) -> None:  # noqa: ANN001
    record = Rec(**ticks)
    assert rules.state_of(record) == state
    assert rules.done_steps(record) + rules.open_steps(record) != []
    assert set(rules.done_steps(record)) | set(rules.open_steps(record)) == set(rules.STEPS)


def test_what_may_happen_in_each_state() -> None:
    assert [s for s in State if rules.may_run(s)] == [State.PREPARED, State.EXECUTING]
    assert [s for s in State if rules.may_review(s)] == [State.EXECUTED]
    assert [s for s in State if not rules.may_tick(s)] == [State.REVIEWED]


def test_reminders_are_due_after_the_settings_and_fall_silent_when_done() -> None:
    assert rules.followup_due(T, timedelta(days=2)) == T + timedelta(days=2)
    assert rules.review_due(T, timedelta(days=7)) == T + timedelta(days=7)
    started = Rec(contact_at=T)
    assert rules.followup_still_open(started) and not rules.review_still_open(started)
    assert not rules.followup_still_open(Rec(contact_at=T, followup_at=T))
    executed = Rec(contact_at=T, message_at=T, feedback_done_at=T, followup_at=T)
    assert rules.review_still_open(executed)
    executed.reviewed_at = T
    assert not rules.review_still_open(executed)
    assert rules.reminder_keys("K-2026-0001") == {
        "followup": "comm.followup:K-2026-0001", "review": "comm.review:K-2026-0001"}


@pytest.mark.parametrize("word, step", [
    ("contact", "contact"), ("初步接触", "contact"), ("1", "contact"), ("Message", "message"),
    ("反馈", "feedback"), ("follow-up", "followup"), ("跟进", "followup"), ("dance", None),
    (None, None),
])
def test_step_words(word, step) -> None:  # noqa: ANN001
    assert rules.step_of(word) == step


def test_list_filters() -> None:
    assert rules.list_filter_of(None) == ("mine", None)
    assert rules.list_filter_of("我的") == ("mine", None)
    assert rules.list_filter_of("open") == ("open", None)
    assert rules.list_filter_of("媒体") == ("audience", "media")
    assert rules.list_filter_of("Partner") == ("audience", "partner")
    assert rules.list_filter_of("robots") is None


@pytest.mark.parametrize("text, parts", [
    ("", (None, None)),
    ("phone", ("phone", None)),
    ("phone at=yesterday 3pm", ("phone", "yesterday 3pm")),
    ('电话 时间="昨天下午3点"', ("电话", "昨天下午3点")),
    ("at=now", (None, "now")),
    ("phone maybe", None),
])
def test_contact_details(text, parts) -> None:  # noqa: ANN001
    assert rules.split_contact(text) == parts


def test_user_text_in_a_command_cannot_change_how_it_reads() -> None:
    assert rules.command_safe('ACME "Ltd" x=1\n<b>') == "ACME Ltd x 1 <b>"
    assert rules.unquote("“对方问渠道”") == "对方问渠道"
