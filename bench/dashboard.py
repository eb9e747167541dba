"""The dashboard's response time with many records: 10,000 of each kind (complaints,
meetings, action items, /comm records, talking points, press releases) in a SQLite file,
requested over loopback HTTP from the real server (waitress + the Flask app), signed in with
a session cookie, one request at a time. Prints p50 and p99 per page, for an admin (who sees
everything) and for a staff member (who sees their own records).

    .venv/bin/python bench/dashboard.py [--rows 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common  # noqa: F401
from _common import percentile, summary_ms
from sqlalchemy import insert

from bot.config import Settings
from bot.core import Liaison
from bot.db import Database, upgrade
from bot.models import Member
from bot.web.auth import Sessions
from bot.web.server import WebServer
from handlers.comm.models import CommRecord
from handlers.complaints.models import Complaint
from handlers.meetings.models import ActionItem, Meeting
from handlers.press.models import PressRelease
from handlers.talking_points.models import TalkingPoint

SECRET = "bench-secret-bench-secret"
PEOPLE = [("console", f"user{i}") for i in range(50)]


def seed(db: Database, rows: int, now: datetime) -> None:
    rnd = random.Random(7)

    def person() -> tuple[str, str]:
        return rnd.choice(PEOPLE)

    def ago(days: float) -> datetime:
        return now - timedelta(seconds=rnd.uniform(0, days * 86400))

    complaints, meetings, actions, comms, points, press = [], [], [], [], [], []
    for n in range(1, rows + 1):
        received = ago(120)
        open_ = rnd.random() < 0.05
        responded = None if open_ else received + timedelta(minutes=rnd.uniform(5, 30 * 60))
        platform, user = person()
        complaints.append(dict(
            ref=f"C-2026-{n:05d}", year=2026, seq=n, customer=f"Customer {n}", contact="",
            channel="phone", summary=f"Complaint {n}", details="…", severity="normal",
            status="new" if open_ else rnd.choice(("responded", "resolved", "closed")),
            received_at=received, due_at=received + timedelta(hours=24),
            responded_at=responded, paused_seconds=0, clock_round=0, followup_nags=0,
            satisfaction=rnd.choice((None, 3, 4, 5)), followup_at=responded,
            reporter_platform=platform, reporter_id=user, reporter_name=user,
            owner_platform=platform, owner_id=user, owner_name=user,
            created_at=received, updated_at=received))
        starts = ago(120)
        meetings.append(dict(
            ref=f"M-2026-{n:05d}", partner=f"Partner {n}", partner_key=f"p{n}",
            title=f"Meeting {n}", starts_at=starts, duration_minutes=60,
            organiser_platform=platform, organiser_id=user, organiser_name=user,
            attendees=[], agenda=[], materials=[], decisions=[], channel_kind="purpose",
            channel_platform="", channel_id="", status="scheduled", rev=0,
            minutes_due_at=starts + timedelta(hours=3),
            minutes_at=None if rnd.random() < 0.03 else starts + timedelta(hours=2),
            created_at=starts, updated_at=starts))
        due = ago(60) + timedelta(days=30)
        done = rnd.random() < 0.9
        actions.append(dict(
            ref=f"A-2026-{n:05d}", meeting_id=n, what=f"Task {n}", owner_platform=platform,
            owner_id=user, owner_name=user, due_at=due, status="done" if done else "open",
            done_at=due - timedelta(days=1) if done else None, done_note="",
            created_at=starts, updated_at=starts))
        executed = ago(120)
        reviewed = rnd.random() < 0.7
        comms.append(dict(
            ref=f"K-2026-{n:05d}", year=2026, seq=n,
            state="reviewed" if reviewed else "executed", owner_platform=platform,
            owner_id=user, owner_name=user, audience="media", audience_name=f"Audience {n}",
            topic=f"Topic {n}", goal="publish", goal_text="…", materials=[], channel="email",
            feedback=[], review_problems=[], executed_at=executed,
            reviewed_at=executed + timedelta(days=3) if reviewed else None,
            review_score=rnd.randint(1, 5) if reviewed else None,
            created_at=executed, updated_at=executed))
        points.append(dict(status="approved", topic=f"Topic {n}", question="Q?", answer="A.",
                           language="zh", tags="", search_text=f"topic {n}",
                           verified_until=now + timedelta(days=rnd.uniform(-30, 120)),
                           created_at=executed, updated_at=executed))
        press.append(dict(ref=f"P-2026-{n:05d}", year=2026, seq=n, state="published",
                          author_platform=platform, author_id=user, author_name=user,
                          version=1, published_at=ago(120), created_at=executed,
                          updated_at=executed))
    with db.session() as s:
        for model, values in ((Complaint, complaints), (Meeting, meetings),
                              (ActionItem, actions), (CommRecord, comms),
                              (TalkingPoint, points), (PressRelease, press)):
            for i in range(0, len(values), 2000):
                s.execute(insert(model), values[i:i + 2000])
        for platform, user in [("console", "admin"), *PEOPLE[:1]]:
            s.add(Member(platform=platform, user_id=user, display_name=user))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        settings = Settings(_env_file=None, database_url=url, dashboard=True,
                            web_secret=SECRET, public_url="http://127.0.0.1",
                            admins="console:admin")
        db = Database(url)
        app = Liaison(settings, db)
        now = datetime.now(UTC)
        began = time.perf_counter()
        seed(db, args.rows, now)
        print(f"seeded {args.rows:,} records of each of 6 kinds in "
              f"{time.perf_counter() - began:.1f} s (SQLite file)")
        server = WebServer(app, host="127.0.0.1", port=0, threads=4).start()
        sessions = Sessions(SECRET)
        ids = {"admin": 1, "staff": 2}
        pages = ["/dash/", "/dash/complaints", "/dash/complaints?q=Customer+12&status=new",
                 "/dash/review"]
        try:
            for who, member_id in ids.items():
                cookie = f"liaison_session={sessions.cookie_for(member_id)}"
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                for path in pages:
                    samples = []
                    for i in range(args.requests + 5):
                        t0 = time.perf_counter()
                        conn.request("GET", path, headers={"Cookie": cookie})
                        response = conn.getresponse()
                        body = response.read()
                        elapsed = time.perf_counter() - t0
                        assert response.status == 200, (path, response.status, body[:200])
                        if i >= 5:  # the first few warm the caches
                            samples.append(elapsed)
                    flag = "ok" if percentile(samples, 99) < 0.2 else "OVER 200 ms"
                    print(f"{who:5} GET {path:45} {summary_ms(samples)}  [{flag}]")
                conn.close()
        finally:
            server.stop()
            db.dispose()


if __name__ == "__main__":
    main()
