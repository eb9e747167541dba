"""Answers rendered after the change commits (issue 22): other threads' writes do not wait on
the templates, and a template that fails then cannot take the change back."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlmodel import select

from bot.models import AuditEntry
from tests.support import Chat, build_app

SCRIPT = ["/visit new", "ACME 公司", "2", "4", "我", "明天下午3点", "完成"]


@pytest.mark.sqlite_only
def test_another_thread_may_write_while_the_answers_are_rendered(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    render, free = app.renderer.render, []

    def render_and_look(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        # The process-wide SQLite lock, tried from another thread (the lock is re-entrant).
        def other() -> None:
            took = app.db._sqlite_lock.acquire(timeout=2)
            free.append(took)
            if took:
                app.db._sqlite_lock.release()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        return render(*args, **kwargs)

    app.renderer.render = render_and_look
    assert "拜访谁" in Chat(app, "alice")("/visit new")
    assert free and all(free)


def _break(app, template: str) -> None:  # noqa: ANN001
    """The renderer fails on this template, as a bug in it would."""
    render = app.renderer.render

    def broken(reply, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if reply.template == template:
            raise KeyError(f"template {template} is missing")
        return render(reply, **kwargs)

    app.renderer.render = broken


def test_a_template_failing_after_the_commit_keeps_the_change_and_apologises(
        db_url, tmp_path, clock, caplog):
    app, saved = build_app(db_url, tmp_path)
    chat = Chat(app, "alice")
    for text in SCRIPT:
        chat(text)
    _break(app, "test/saved")
    with caplog.at_level(logging.ERROR):
        out = chat.say("确认")
    assert [o.message.template for o in out] == ["errors/answer_failed"]
    assert "已经保存" in out[0].message.text  # not "nothing was changed"
    assert len(saved) == 1  # saved, and its audit entry with it
    with app.db.session() as s:
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "create")).all()
    assert any("committed" in r.getMessage() for r in caplog.records)


def test_a_template_failing_for_a_message_that_wrote_nothing_says_nothing_changed(
        db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    chat = Chat(app, "alice")
    chat("/whoami")  # alice is known: the next /whoami writes nothing
    _break(app, "system/whoami")
    out = chat.say("/whoami")
    assert [o.message.template for o in out] == ["errors/internal"]
    assert "没有改动任何内容" in out[0].message.text
