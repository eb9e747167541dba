"""Complaint ids: C-<year>-<4 digits>, a per-year sequence that stays unique and gap-free when
many people file at the same moment, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlmodel import select

from handlers.complaints.models import Complaint
from handlers.complaints.rules import IDS
from tests.support import Chat, build_app

FILE = ('/complaint new customer=ACME contact=x channel=email summary="s {n}" details=d '
        'severity=low received=now owner=me')


def test_many_people_filing_at_once_get_unique_consecutive_ids(db_url, tmp_path):
    app, _ = build_app(db_url, tmp_path)
    Chat(app, "admin", channel="C-ROOM", direct=False)("/route complaints here")
    people, each = 8, 5
    chats = [Chat(app, f"agent{i}") for i in range(people)]
    for chat in chats:
        chat(FILE.format(n=0))  # each is at the confirmation step of their own flow
    start = threading.Barrier(people)
    errors: list[BaseException] = []

    def file_all(i: int) -> None:
        try:
            start.wait()
            for n in range(each):
                if n:
                    chats[i](FILE.format(n=n))
                out = chats[i]("确认")
                assert "已登记投诉 C-" in out, out
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=file_all, args=(i,)) for i in range(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with app.db.session() as s:
        refs = sorted(s.exec(select(Complaint.ref)).all())
    year = datetime.now(UTC).astimezone(app.settings.zone).year
    assert refs == [f"C-{year}-{n:04d}" for n in range(1, people * each + 1)]


def test_the_sequence_starts_again_each_year_and_survives_a_rollback(db_url, tmp_path):
    app, _ = build_app(db_url, tmp_path)
    with app.db.session() as s:
        assert [IDS.next(s, 2026)[0] for _ in range(3)] == [1, 2, 3]
        assert IDS.next(s, 2027)[0] == 1
    try:
        with app.db.session() as s:
            assert IDS.next(s, 2026)[0] == 4
            raise RuntimeError("the creation failed after taking a number")
    except RuntimeError:
        pass
    with app.db.session() as s:
        assert IDS.next(s, 2026)[0] == 4  # the rolled-back number is handed out again
