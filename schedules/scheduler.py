"""APScheduler wiring: the in-memory job store runs a sweep every LIAISON_REMINDER_SWEEP, a
one-shot wake-up at the next due time (so a reminder is late by a fraction of a second, not
by a sweep interval), the cron jobs that plan periodic pushes, and the domains' own
background jobs (bot.domain.Job, such as the survey e-mails), each every sweep interval and
at once when a commit asks for it.

Nothing is pickled and no job store is shared between processes (APScheduler's FAQ warns
against that): every replica runs its own scheduler, and the reminder rows, claimed
atomically, are what they share. A periodic push is itself a reminder row with a key such as
`training:2027-Q1`, so several replicas produce one message.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import workcal
from bot.core import Liaison
from bot.errors import StorageError
from schedules import api
from schedules.api import Target
from schedules.worker import Sweeper

log = logging.getLogger(__name__)

DIGEST = "system.digest"
TRAINING = "system.training"
TIP = "system.tip"
TIP_EPOCH = date(2024, 1, 1)  # a Monday: weekly tip periods start on Mondays
PURPOSES_WITH_DIGEST = ("complaints", "meetings", "escalations", "talking_points")
# How soon a sweep that met a database failure runs again: one connection attempt each time,
# cheap, and it bounds how late reminders due during an outage go out after its end.
RETRY_DOWN = timedelta(seconds=0.25)


class ReminderScheduler:
    def __init__(self, app: Liaison, adapters: Mapping[str, object]) -> None:
        self.app = app
        self.settings = app.settings
        self.sweeper = Sweeper(app, adapters, keep_sent=False)  # nobody reads the list
        self._sweeping = threading.Lock()
        self._wake_lock = threading.Lock()
        self._down = False
        self._woken = False  # a wake-up for now arrived (see sweep)
        self._in_sweep = False  # a sweep is running and will look at _woken before it ends
        self._stopping = False  # stop() has begun: no more wake-ups
        # The domains' background jobs, by name, and those woken while running (see run_job).
        self.jobs = app.registry.jobs  # declared with each domain: nothing is loaded
        self._job_locks = {name: threading.Lock() for name in self.jobs}
        self._jobs_woken: set[str] = set()
        self.scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            # Domain jobs (survey e-mail: an SMTP reply may take minutes) get threads of their
            # own, so they never hold up the reminder sweep and its wake-ups.
            executors={"default": ThreadPoolExecutor(4), "jobs": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=self.settings.zone,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        zone = self.settings.zone
        hour, minute = (int(x) for x in self.settings.digest_time.split(":"))
        self.scheduler.add_job(
            self.sweep, IntervalTrigger(seconds=self.settings.reminder_sweep.total_seconds()),
            id="sweep", next_run_time=datetime.now(UTC),  # at once: catch up after downtime
        )
        self.scheduler.add_job(
            self.plan_digest, CronTrigger(hour=hour, minute=minute, timezone=zone), id="digest"
        )
        # The handbook's quarterly training: the first Monday of each quarter, 10:00 local.
        # APScheduler ANDs cron fields, so day 1-7 and Monday is exactly the first Monday.
        self.scheduler.add_job(
            self.plan_training,
            CronTrigger(month="1,4,7,10", day="1-7", day_of_week="mon", hour=10, timezone=zone),
            id="training",
        )
        # A communication tip once per LIAISON_TIP_EVERY, on working days only.
        self.scheduler.add_job(
            self.plan_tip, CronTrigger(day_of_week="mon-fri", hour=10, timezone=zone), id="tip"
        )
        # Last week's review (复盘), Mondays at LIAISON_REVIEW_TIME, team time.
        review = getattr(self.settings, "review", None)  # absent when built without it
        review_hour, review_minute = (int(x) for x in (review.time if review else "09:30")
                                      .split(":"))
        self.scheduler.add_job(
            self.plan_review,
            CronTrigger(day_of_week="mon", hour=review_hour, minute=review_minute, timezone=zone),
            id="review",
        )
        self.scheduler.add_job(self.housekeeping, IntervalTrigger(hours=1), id="housekeeping")
        for name in self.jobs:
            self.scheduler.add_job(
                self.run_job, IntervalTrigger(seconds=self.settings.reminder_sweep.total_seconds()),
                args=[name], id=f"job:{name}", next_run_time=datetime.now(UTC),
                executor="jobs")
        self.app.db.wakers.append(self.wake)
        self.app.db.job_wakers.append(self.wake_job)
        self.scheduler.start()
        log.info("reminder scheduler started as %s (sweep every %s, lease %s)",
                 self.sweeper.owner, self.settings.reminder_sweep, self.settings.reminder_lease)

    def stop(self) -> None:
        if self.wake in self.app.db.wakers:
            self.app.db.wakers.remove(self.wake)
        if self.wake_job in self.app.db.job_wakers:
            self.app.db.job_wakers.remove(self.wake_job)
        # No wake-up may be added once shutting down begins: APScheduler's shutdown holds its
        # job-store lock while it waits for running jobs, and a sweep job adding its wake-up
        # then would wait for that lock for ever. Taking _wake_lock here also waits out a
        # wake-up being added at this moment.
        with self._wake_lock:
            self._stopping = True
        if self.scheduler.running:
            # The one-shot wake-ups go first: APScheduler's shutdown marks the scheduler
            # stopped before it takes its job-store lock, and a one-shot job being run at that
            # moment is then not found for removal (JobLookupError ends its loop thread).
            for job in self.scheduler.get_jobs():
                if job.id == "wake" or job.id.endswith(":wake"):
                    with contextlib.suppress(JobLookupError):
                        self.scheduler.remove_job(job.id)
            self.scheduler.shutdown(wait=True)

    # -- jobs ---------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Sweep, then set a wake-up for the next due time. Every step is inside the error
        handling: while the database is away the sweep is tried again every RETRY_DOWN, so
        reminders due meanwhile go out within that of its return."""
        with self._sweeping:
            try:
                while True:
                    with self._wake_lock:
                        self._woken = False
                        self._in_sweep = True
                    upcoming = self._sweep_once()
                    with self._wake_lock:
                        # Woken meanwhile (a reply queued while this sweep ran): once more,
                        # since APScheduler skips a wake-up job whose previous run is going.
                        if not self._woken:
                            self._in_sweep = False
                            break
            finally:
                with self._wake_lock:
                    self._in_sweep = False
        if upcoming is not None:
            self.wake(upcoming)

    def _sweep_once(self) -> datetime | None:
        try:
            # The sweep reads the next due time last thing, on its own connection.
            upcoming = self.sweeper.sweep().next_due
            if self._down:
                log.warning("database is back; reminder delivery resumed")
            self._down = False
            return upcoming
        except StorageError as exc:
            if not exc.unavailable:
                log.exception("reminder sweep failed; trying again shortly")
            elif not self._down:
                log.warning("database unavailable; reminder sweep retried every %s s",
                            RETRY_DOWN.total_seconds())
            self._down = exc.unavailable
        except Exception:
            log.exception("reminder sweep failed; trying again shortly")
        return datetime.now(UTC) + RETRY_DOWN

    def wake(self, due: datetime) -> None:
        """Run a sweep at `due` unless one is already set for no later than that."""
        with self._wake_lock:
            if due <= datetime.now(UTC):
                self._woken = True
                if self._in_sweep:
                    # The sweep running now sees _woken before it ends and goes round once
                    # more: no wake-up job (adding one cost 0.1 ms of CPU per reply queued
                    # during a burst, issue 22).
                    return
            if self._stopping or not self.scheduler.running:
                return
            if due - datetime.now(UTC) > 2 * self.settings.reminder_sweep:
                # Interval sweeps run before then, and each sets the wake-up anew when it
                # ends: the last of them sets this one. (After every lone answer's sweep the
                # next due time is usually hours off: a wake-up job for it, replaced by the
                # next answer's, cost a sixth of that sweep, issue 22.)
                return
            job = self.scheduler.get_job("wake")
            if job is not None and job.next_run_time is not None and job.next_run_time <= due:
                return
            # Two instances: a wake-up set while the previous wake-up's sweep is finishing
            # (past its last look at `_woken`) would otherwise be skipped by APScheduler as
            # "maximum number of running instances reached", and a reply queued then would
            # wait for the next interval sweep. The second instance waits for the first.
            self.scheduler.add_job(
                self.sweep, DateTrigger(run_date=max(due, datetime.now(UTC))),
                id="wake", replace_existing=True, max_instances=2,
            )

    def run_job(self, name: str) -> None:
        """Run a domain's job; again at once when it was woken while running (APScheduler
        skips a wake-up whose previous run is still going). A failure is logged; the next
        interval tries again. An instance that finds the job running returns at once: the
        running one sees the wake-up (both look under the wake lock) and goes round again."""
        lock = self._job_locks[name]
        with self._wake_lock:
            if not lock.acquire(blocking=False):
                return
        while True:
            with self._wake_lock:
                self._jobs_woken.discard(name)
            try:
                self.jobs[name](self.app)
            except Exception:
                log.exception("background job %s failed; it runs again shortly", name)
            with self._wake_lock:
                if name not in self._jobs_woken:
                    lock.release()
                    return

    def wake_job(self, name: str) -> None:
        """Run a domain's job now (a commit queued work for it)."""
        with self._wake_lock:
            if name not in self.jobs:
                return
            self._jobs_woken.add(name)
            if self._stopping or not self.scheduler.running:
                return
            self.scheduler.add_job(
                self.run_job, DateTrigger(run_date=datetime.now(UTC)), args=[name],
                id=f"job:{name}:wake", replace_existing=True, max_instances=2,
                executor="jobs",
            )

    def housekeeping(self) -> None:
        """Forget inbound event ids older than a week and conversations that expired."""
        try:
            self.app.purge(datetime.now(UTC))
        except Exception:
            log.exception("housekeeping failed; it runs again in an hour")

    def plan_digest(self, now: datetime | None = None) -> int:
        """Plan one digest per purpose with overdue work; it is rendered when it is sent."""
        now = now or datetime.now(UTC)
        day = now.astimezone(self.settings.zone).date().isoformat()
        self.app.registry.load()  # the domains' code, outside the transaction
        planned = 0
        with self.app.db.session() as session:
            purposes: set[str] = set()
            for provider in self.app.registry.digests:
                purposes |= {p for p, items in provider(session, now).items() if items}
            for purpose in sorted(purposes):
                # No digest on a day off of the purpose's calendar (24x7 has none).
                cal = self.app.registry.calendar(session, self.settings, purpose)
                if not cal.always and not cal.is_working_day(
                        now.astimezone(cal.zone).date()):
                    continue
                api.plan(
                    session, key=f"{DIGEST}:{day}:{purpose}", kind=DIGEST, due=now,
                    target=Target.purpose(purpose), payload={"purpose": purpose},
                    snoozable=False,
                )
                planned += 1
        return planned

    def plan_review(self, now: datetime | None = None) -> list[str]:
        """Last week's review, one row per routed channel and week (handlers/review)."""
        from handlers.review.commands import plan_weekly

        self.app.registry.load()  # the domains' code, outside the transaction
        now = now or datetime.now(UTC)
        with self.app.db.session() as session:
            return plan_weekly(session, self.settings, now)

    def plan_training(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        local = now.astimezone(self.settings.zone)
        quarter = f"{local.year}-Q{(local.month - 1) // 3 + 1}"
        target = training_target(self.settings.training_channel)
        with self.app.db.session() as session:
            api.plan(
                session, key=f"training:{quarter}", kind=TRAINING, due=now, target=target,
                # The admins organise when nobody holds the trainer role: the message names them.
                payload={"quarter": quarter,
                         "admins": sorted(f"{p}:{u}" for p, u in self.settings.admin_ids)},
                snoozable=False,
            )
        return quarter


    def plan_tip(self, now: datetime | None = None) -> int | None:
        """The tip of the current period, on its first working day (one row per period: the
        key is the period's number, so later days and other replicas add nothing)."""
        now = now or datetime.now(UTC)
        local = now.astimezone(self.settings.zone)
        self.app.registry.load()  # the domains' code, outside the transaction
        with self.app.db.session() as session:
            cal = self.app.registry.calendar(session, self.settings, "training")
        if (local.weekday() >= 5) if cal.always else not cal.is_working_day(local.date()):
            return None
        every = max(1, self.settings.training.tip_every.days)
        period = (local.date() - TIP_EPOCH).days // every
        with self.app.db.session() as session:
            api.plan(session, key=f"tip:{every}d:{period}", kind=TIP, due=now,
                     target=training_target(self.settings.training_channel),
                     payload={"period": period}, snoozable=False)
        return period


def training_target(setting: str) -> Target:
    """LIAISON_TRAINING_CHANNEL is `platform:channel_id`; empty means the training purpose."""
    platform, _, channel = setting.partition(":")
    if platform and channel:
        return Target.channel(platform, channel)
    return Target.purpose("training")


next_workday = workcal.weekday_morning_after  # "next workday" with no calendar
