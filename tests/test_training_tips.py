"""Skill tips: the data (both languages, every skill, cross-cultural ones tagged), and one
tip a week to the training channel on a working day, rotating skills, over three weeks."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.messages import Reply
from bot.render import Renderer
from handlers.training.models import SKILLS
from handlers.training.tips import import_tips, tip_for, tips
from schedules.scheduler import ReminderScheduler
from tests.support import Chat, build_app, liaison, recording_adapters, run_due


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_at_least_twelve_tips_per_skill_in_each_language(locale: str) -> None:
    data = tips(locale)
    counts = Counter(t["skill"] for t in data)
    assert {skill: counts[skill] >= 12 for skill in SKILLS} == dict.fromkeys(SKILLS, True)
    assert len({t["id"] for t in data}) == len(data)
    assert all(t["text"].strip() for t in data)
    labels = Renderer(locale)
    for t in data:
        if t.get("region"):
            assert t["skill"] == "cross_cultural"
            assert labels.label(locale, f"training.region.{t['region']}")


def test_both_languages_hold_the_same_tips() -> None:
    zh = {t["id"]: (t["skill"], t.get("region")) for t in tips("zh")}
    en = {t["id"]: (t["skill"], t.get("region")) for t in tips("en")}
    assert zh == en


def _three_weeks(app, clock, start):  # noqa: ANN001, ANN202
    """Every time the real cron trigger fires in three weeks, as the scheduler would run it;
    and, to be sure, a call on every weekend day too."""
    zone = app.settings.zone
    trigger = CronTrigger(day_of_week="mon-fri", hour=10, timezone=zone)
    scheduler = ReminderScheduler(app, recording_adapters())
    sent, fired = [], []
    fire = trigger.get_next_fire_time(None, start)
    while fire < start + timedelta(weeks=3):
        fired.append(fire)
        clock.move_to(fire)
        scheduler.plan_tip()
        sent += [(fire, o) for o in run_due(app)]
        fire = trigger.get_next_fire_time(fire, fire + timedelta(minutes=1))
    day = start
    while day < start + timedelta(weeks=3):
        if day.weekday() >= 5:
            clock.move_to(day.replace(hour=10))
            assert scheduler.plan_tip() is None
            assert run_due(app) == []
        day += timedelta(days=1)
    return fired, sent


def test_one_tip_a_week_on_a_working_day_rotating_skills(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    Chat(app, "admin", channel="C-TRAIN", direct=False)("/route training here")
    start = datetime(2026, 11, 28, 0, 0, tzinfo=app.settings.zone)  # a Saturday
    fired, sent = _three_weeks(app, clock, start)
    assert len(fired) == 15 and all(f.weekday() < 5 for f in fired)
    assert len(sent) == 3
    assert [f.date().isoformat() for f, _ in sent] == ["2026-11-30", "2026-12-07", "2026-12-14"]
    assert all(o.address.channel == "C-TRAIN" for _, o in sent)
    assert [o.message.title for _, o in sent] == [
        "每周沟通小贴士 · 语言表达", "每周沟通小贴士 · 情绪管理", "每周沟通小贴士 · 跨文化沟通"]
    # Each skill's tips in turn: these weeks are the 39th round, so the 13th tip of each.
    assert "电话沟通结束前复述一遍双方确认的事项" in sent[0][1].message.text
    assert "跨时区沟通时写明时区" in sent[2][1].message.text


def test_a_cross_cultural_tip_names_its_region() -> None:
    first = tip_for(2)  # period 2: the cross-cultural skill, its first tip
    assert (first["skill"], first["region"]) == ("cross_cultural", "JP")
    assert first["text"]["en"].startswith("With Japanese partners")
    text = Renderer("zh").render(Reply("training/tip", {"tip": first}), locale="zh",
                                 platform="console", zone=ZoneInfo("Asia/Shanghai")).text
    assert "(适用于:日本)" in text and "这个有点难" in text


def test_tips_in_english_and_every_other_week(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path, default_locale="en",
                       training={"tip_every": timedelta(weeks=2)})
    Chat(app, "admin", channel="C-TRAIN", direct=False)("/route training here")
    start = datetime(2026, 11, 28, 0, 0, tzinfo=app.settings.zone)
    _, sent = _three_weeks(app, clock, start)
    assert [f.date().isoformat() for f, _ in sent] == ["2026-11-30", "2026-12-14"]
    assert sent[0][1].message.title.startswith("Communication tip of the week · ")
    assert "With regulators, state facts" in sent[0][1].message.text
    assert sent[1][1].message.title == "Communication tip of the week · Managing emotions"
    assert "In a partner dispute, first agree on the shared goal" in sent[1][1].message.text


def test_tips_import_replaces_a_language_whole_or_not_at_all(tmp_path, capsys):
    root = tmp_path / "templates"
    (root / "en" / "training").mkdir(parents=True)
    good = tmp_path / "tips.yaml"
    good.write_text(
        "- {id: a, skill: language, text: Lead with the point.}\n"
        "- {id: b, skill: emotion, text: Breathe before answering.}\n"
        "- {id: c, skill: cross_cultural, region: JP, text: Allow time for consensus.}\n"
        "- {id: d, skill: new_media, text: Preview on a phone.}\n", encoding="utf-8")
    counts = import_tips(good, "en", root)
    assert dict(counts) == dict.fromkeys(SKILLS, 1)
    written = (root / "en" / "training" / "tips.yaml").read_text(encoding="utf-8")
    assert "Allow time for consensus." in written
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: a, skill: cooking, text: Salt.}\n"
                   "- {id: a, skill: language, region: Mars, text: ''}\n", encoding="utf-8")
    with pytest.raises(ValueError) as refused:
        import_tips(bad, "en", root)
    message = str(refused.value)
    assert "tip 1: skill must be one of" in message and "tip 2: id 'a' used twice" in message
    assert "tip 2: region must be one of" in message and "no tip for: emotion" in message
    assert (root / "en" / "training" / "tips.yaml").read_text(encoding="utf-8") == written


def test_the_cli_names_the_command():
    out = liaison("training", "tips", "import", "--help")
    assert out.returncode == 0 and "--locale" in out.stdout
