"""What a member sees when a time they typed could be read two ways, or was said roughly:
the echo they confirm names the reading taken and the one not taken ("15:30 (not 03:30)"),
or says "about". Through /meeting new in the console; the clock starts on Thursday
26 November 2026, 10:00 in Shanghai."""

from __future__ import annotations

from tests.support import Chat
from tests.test_meetings import _app, _shift_to


def _to_summary(chat: Chat, start: str, *, lang: str = "zh") -> tuple[str, str]:
    """/meeting new up to its summary: (the echo after the start time, the summary)."""
    skip, done = ("跳过", "完成") if lang == "zh" else ("skip", "done")
    chat("/meeting new")
    chat("ACME")
    chat("Review")
    echo = chat(start)
    chat(skip)  # one hour
    chat("@bob")
    chat("Plans")
    chat(done)
    chat(skip)
    summary = chat.say(skip)[0].message.text
    return echo, summary


def test_a_bare_clock_time_is_the_next_one_and_the_echo_names_the_other(
    db_url, tmp_path, clock
) -> None:
    alice = Chat(_app(db_url, tmp_path), "alice")
    echo, summary = _to_summary(alice, "3:30")  # at 10:00: 15:30 today, not 03:30 tomorrow
    assert "开始时间:2026年11月26日 周四 15:30(而不是 03:30) (Asia/Shanghai)" in echo
    assert "2026年11月26日 周四 15:30(而不是 03:30) (Asia/Shanghai)" in summary
    out = alice.say("确认")[0].message.text
    assert "M-2026-0001" in out


def test_in_english_the_echo_says_not_and_about(db_url, tmp_path, clock) -> None:
    alice = Chat(_app(db_url, tmp_path), "alice")
    alice("/lang en")
    echo, summary = _to_summary(alice, "ten thirty tonight", lang="en")
    assert "Starts Thu 26 Nov 2026, 22:30 (Asia/Shanghai)." in echo  # tonight says which
    alice("cancel")
    echo, summary = _to_summary(alice, "at 1030", lang="en")  # 10:30 is still ahead
    assert "Starts Thu 26 Nov 2026, 10:30 (not 22:30) (Asia/Shanghai)." in echo
    assert "Thu 26 Nov 2026, 10:30 (not 22:30) (Asia/Shanghai)" in summary
    alice("cancel")
    echo, summary = _to_summary(alice, "9:15", lang="en")  # 09:15 has passed: 21:15
    assert "Starts Thu 26 Nov 2026, 21:15 (not 09:15) (Asia/Shanghai)." in echo
    alice("cancel")
    echo, summary = _to_summary(alice, "tomorrow 3ish pm", lang="en")
    assert "Starts about Fri 27 Nov 2026, 15:00 (Asia/Shanghai)." in echo
    assert "about Fri 27 Nov 2026, 15:00 (Asia/Shanghai)" in summary


def test_a_chinese_hour_keeps_the_24_hour_clock_and_says_so(db_url, tmp_path, clock) -> None:
    # 三点半 is 03:30 on the 24-hour clock (the phrase tests hold it so at 10:00); the echo
    # names 15:30, so a member who meant the afternoon sees it before confirming.
    alice = Chat(_app(db_url, tmp_path), "alice")
    echo, _ = _to_summary(alice, "三点半")
    assert "开始时间:2026年11月27日 周五 03:30(而不是 15:30) (Asia/Shanghai)" in echo


def test_an_approximate_time_is_echoed_as_approximate(db_url, tmp_path, clock) -> None:
    alice = Chat(_app(db_url, tmp_path), "alice")
    echo, summary = _to_summary(alice, "明天下午5点多")
    assert "开始时间:约 2026年11月27日 周五 17:00 (Asia/Shanghai)" in echo
    assert "约 2026年11月27日 周五 17:00 (Asia/Shanghai)" in summary


def test_at_one_in_the_morning_a_bare_clock_time_is_that_night(db_url, tmp_path, clock) -> None:
    app = _app(db_url, tmp_path)
    _shift_to(clock, app, "2026-11-27 01:00")
    alice = Chat(app, "alice")
    echo, _ = _to_summary(alice, "3:30")
    assert "开始时间:2026年11月27日 周五 03:30(而不是 15:30) (Asia/Shanghai)" in echo


def test_a_plain_answer_has_no_note_and_going_back_drops_the_old_one(
    db_url, tmp_path, clock
) -> None:
    alice = Chat(_app(db_url, tmp_path), "alice")
    alice("/meeting new")
    alice("ACME")
    alice("Review")
    assert "15:30(而不是 03:30)" in alice("3:30")
    alice("返回")
    echo = alice("下午3点半")
    assert "开始时间:2026年11月26日 周四 15:30 (Asia/Shanghai)" in echo
    assert "而不是" not in echo
    assert "约" not in echo
