"""The complaint rules on their own: state machine, response clock, which reminders exist,
who may change a complaint and who may read it in full."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.complaints import rules
from handlers.complaints.models import Complaint

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
LEADS = [timedelta(hours=4), timedelta(hours=1)]
EVERY = timedelta(days=3)


def _c(**kw) -> Complaint:  # noqa: ANN003
    values = dict(ref="C-2026-0001", year=2026, seq=1, customer="ACME", channel="phone",
                  summary="refund late", details="...", severity="high", status="new",
                  received_at=NOW, due_at=NOW + timedelta(hours=24), reporter_platform="console",
                  reporter_id="alice", owner_platform="console", owner_id="bob",
                  owner_name="bob")
    values.update(kw)
    return Complaint(**values)


@pytest.mark.parametrize("text, ref", [
    ("C-2026-0001", "C-2026-0001"), ("c-2026-1", "C-2026-0001"), ("C20260012", "C-2026-0012"),
    ("Ｃ－２０２６－０００７", "C-2026-0007"), (" C-2027-10000 ", "C-2027-10000"),
    ("2026-0001", None), ("C-26-1", None), ("hello", None), ("", None), (None, None),
])
def test_complaint_ids_are_read_leniently_and_written_one_way(text, ref) -> None:  # noqa: ANN001
    assert rules.IDS.parse(text) == ref


ORDER = [  # (status, action, has_text) -> refusal reason or None
    ("new", "respond", True, None),
    ("new", "solution", True, "respond_first"),
    ("new", "followup", True, "solution_first"),
    ("new", "satisfaction", True, "followup_first"),
    ("new", "resolve", True, "followup_before_resolve"),
    ("new", "close", False, "close_reason_needed"),
    ("new", "close", True, None),
    ("new", "reopen", True, "not_closed"),
    ("new", "pause", True, None),
    ("new", "pause", False, "reason_needed"),
    ("responded", "respond", True, "already_responded"),
    ("responded", "solution", True, None),
    ("responded", "pause", True, "no_clock"),
    ("solution", "solution", True, None),
    ("solution", "followup", True, None),
    ("solution", "pause", True, None),
    ("followed_up", "followup", True, "already_followed_up"),
    ("followed_up", "satisfaction", True, None),
    ("followed_up", "solution", True, None),
    ("followed_up", "resolve", True, None),
    ("resolved", "resolve", True, "already_resolved"),
    ("resolved", "solution", True, "past_solution"),
    ("resolved", "satisfaction", True, None),
    ("resolved", "close", False, None),
    ("resolved", "reopen", False, "reason_needed"),
    ("resolved", "reopen", True, None),
    ("closed", "note", True, "closed"),
    ("closed", "assign", True, "closed"),
    ("closed", "respond", True, "closed"),
    ("closed", "close", True, "closed"),
    ("closed", "reopen", True, None),
    ("closed", "reopen", False, "reason_needed"),
]


@pytest.mark.parametrize("status, action, has_text, reason", ORDER)
def test_transitions_out_of_order_are_refused_with_a_reason(status, action, has_text,
                                                            reason) -> None:  # noqa: ANN001
    c = _c(status=status)
    if reason is None:
        rules.check(action, c, has_text=has_text)
    else:
        with pytest.raises(rules.Refused) as refused:
            rules.check(action, c, has_text=has_text)
        assert refused.value.reason == reason


def test_pause_and_resume_need_the_right_state() -> None:
    paused = _c(paused_at=NOW)
    with pytest.raises(rules.Refused, match="already_paused"):
        rules.check("pause", paused)
    rules.check("resume", paused)
    with pytest.raises(rules.Refused, match="not_paused"):
        rules.check("resume", _c())


def test_the_response_clock() -> None:
    c = _c()
    assert rules.clock(c, NOW + timedelta(hours=20)) == {
        "state": "running", "due": c.due_at, "left": timedelta(hours=4)}
    assert rules.clock(c, NOW + timedelta(hours=25))["state"] == "overdue"
    assert rules.clock(c, NOW + timedelta(hours=25))["left"] == timedelta(hours=1)
    paused = _c(paused_at=NOW + timedelta(hours=2))
    # Frozen at the moment of pausing, however long the pause lasts.
    assert rules.clock(paused, NOW + timedelta(days=5))["left"] == timedelta(hours=22)
    assert rules.clock(_c(status="responded"), NOW)["state"] == "stopped"
    assert rules.resume_shift(paused, NOW + timedelta(hours=7)) == timedelta(hours=5)


def test_reminders_for_an_unanswered_complaint() -> None:
    planned = rules.reminder_plan(_c(), NOW, LEADS, EVERY)
    assert [(p.key, p.kind, p.due - NOW, p.target, p.snoozable) for p in planned] == [
        ("complaint:C-2026-0001:due:4h", rules.RESPONSE_DUE, timedelta(hours=20),
         ("member", "bob", "console"), True),
        ("complaint:C-2026-0001:due:1h", rules.RESPONSE_DUE, timedelta(hours=23),
         ("member", "bob", "console"), True),
        ("complaint:C-2026-0001:breach:owner", rules.BREACH, timedelta(hours=24),
         ("member", "bob", "console"), False),
        ("complaint:C-2026-0001:breach:escalations", rules.BREACH, timedelta(hours=24),
         ("purpose", "escalations", ""), False),
    ]
    assert planned[0].payload == {"title": "refund late", "ref": "C-2026-0001", "lead": 14400,
                                  "deadline": "2026-11-27T02:00:00+00:00"}


def test_leads_already_past_are_skipped_and_a_late_filing_escalates_at_once() -> None:
    received_long_ago = _c(received_at=NOW - timedelta(hours=22),
                           due_at=NOW + timedelta(hours=2))
    kinds = [(p.key.split(":", 2)[2], p.due) for p in
             rules.reminder_plan(received_long_ago, NOW, LEADS, EVERY)]
    assert kinds[0] == ("due:1h", NOW + timedelta(hours=1))
    assert "due:4h" not in dict(kinds)
    overdue = _c(received_at=NOW - timedelta(days=2), due_at=NOW - timedelta(days=1))
    planned = rules.reminder_plan(overdue, NOW, LEADS, EVERY)
    assert {p.kind for p in planned} == {rules.BREACH} and {p.due for p in planned} == {NOW}


def test_an_unowned_complaint_reminds_the_complaints_channel() -> None:
    planned = rules.reminder_plan(_c(owner_platform=None, owner_id=None), NOW, LEADS, EVERY)
    assert {p.target for p in planned} == {("purpose", "complaints", ""),
                                           ("purpose", "escalations", "")}
    assert not any(p.key.endswith("breach:owner") for p in planned)


def test_no_reminders_when_paused_answered_or_closed_and_new_keys_after_a_restart() -> None:
    assert rules.reminder_plan(_c(paused_at=NOW), NOW, LEADS, EVERY) == []
    assert rules.reminder_plan(_c(status="responded"), NOW, LEADS, EVERY) == []
    assert rules.reminder_plan(_c(status="closed"), NOW, LEADS, EVERY) == []
    resumed = rules.reminder_plan(_c(clock_round=2), NOW, LEADS, EVERY)
    assert resumed[0].key == "complaint:C-2026-0001:due:4h#2"


def test_the_follow_up_reminder_after_a_solution() -> None:
    c = _c(status="solution", followup_due_at=NOW + EVERY, followup_nags=1)
    (planned,) = rules.reminder_plan(c, NOW, LEADS, EVERY)
    assert (planned.key, planned.kind, planned.due) == (
        "complaint:C-2026-0001:followup:1", rules.FOLLOWUP, NOW + EVERY)
    assert planned.payload["every"] == EVERY.total_seconds()
    assert rules.lead_label(timedelta(minutes=90)) == "90m"


def test_who_may_change_a_complaint() -> None:
    c = _c()
    staff = frozenset({"staff"})
    assert rules.can_change(c, "console", "bob", staff)  # the owner
    assert not rules.can_change(c, "console", "carol", staff)
    assert not rules.can_change(c, "slack", "bob", staff)  # same id, another platform
    assert rules.can_change(c, "console", "carol", frozenset({"staff", "agent"}))
    assert rules.can_change(c, "console", "carol", frozenset({"staff", "admin"}))
    assert not rules.can_take(staff) and rules.can_take(frozenset({"agent"}))


@pytest.mark.parametrize("place, owner, agent, full", [
    (rules.COMPLAINTS_CHANNEL, False, False, True),
    (rules.DIRECT, True, False, True),
    (rules.DIRECT, False, True, True),
    (rules.DIRECT, False, False, False),
    (rules.OTHER, True, True, False),  # others in that channel did not ask
    (rules.OTHER, False, False, False),
])
def test_who_reads_the_full_text_where(place, owner, agent, full) -> None:  # noqa: ANN001
    assert rules.sees_full(place, owner=owner, agent=agent) is full
