"""The worker's clock: APScheduler triggers each job (the sweep on an interval, the checks at set times).

Every job has ``coalesce=True`` and ``misfire_grace_time=None``: APScheduler 3 silently skips a run more
than one second late by default; here a late run still happens, once. Nothing is lost while the worker
is down, because reminders are rows: the next sweep catches up. Times of day are Europe/Copenhagen.

>>> jobs = [Job(id="sweep", description="deliver due reminders", run=print, every_seconds=60)]
>>> run_worker(jobs, start_at=now, on_error=log)            # doctest: +SKIP
"""

from __future__ import annotations

from indsats.i18n import _
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LOCAL_ZONE = "Europe/Copenhagen"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, kw_only=True)
class Job:
    """One scheduled job: on an interval (``every_seconds``) or at a time of day (``at``, e.g. ``mon 06:00``)."""

    id: str
    description: str
    run: Callable[[], Any]
    every_seconds: float | None = None
    at: str | None = None  # "HH:MM" every day, or "DAY HH:MM" once a week, local time

    def trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.every_seconds is not None:
            return IntervalTrigger(seconds=self.every_seconds, timezone="UTC")
        day, hour, minute = parse_at(self.at or "")
        return CronTrigger(day_of_week=day or "*", hour=hour, minute=minute, timezone=LOCAL_ZONE)

    def when(self) -> str:
        if self.every_seconds is not None:
            return _("every {seconds:g} s").format(seconds=self.every_seconds)
        return _("at {time} {zone}").format(time=self.at, zone=LOCAL_ZONE)


def parse_at(text: str) -> tuple[str | None, int, int]:
    """``'02:00'`` → (None, 2, 0); ``'mon 06:00'`` → ('mon', 6, 0); ``ValueError`` otherwise."""
    parts = text.strip().lower().split()
    day = parts[0] if len(parts) == 2 else None
    if len(parts) not in (1, 2) or (day is not None and day not in WEEKDAYS):
        raise ValueError(_("'{text}' is not HH:MM or DAY HH:MM (DAY one of {listed})").format(text=text, listed=', '.join(WEEKDAYS)))
    hour_text, _colon, minute_text = parts[-1].partition(":")
    if not (hour_text.isdigit() and minute_text.isdigit() and int(hour_text) < 24 and int(minute_text) < 60):
        raise ValueError(_("'{text}' is not HH:MM or DAY HH:MM").format(text=text))
    return day, int(hour_text), int(minute_text)


def next_runs(jobs: list[Job], now: datetime, *, start_at: datetime | None = None) -> list[tuple[Job, datetime]]:
    """When each job runs next after ``now`` (the sweep at ``start_at``, when the worker starts)."""
    found = []
    for job in jobs:
        if job.every_seconds is not None and start_at is not None:
            found.append((job, start_at))
            continue
        found.append((job, job.trigger().get_next_fire_time(None, now)))
    return found


def run_worker(
    jobs: list[Job],
    *,
    start_at: datetime,
    on_error: Callable[[Job, BaseException], None],
) -> None:
    """Run the jobs until SIGTERM or SIGINT (interval jobs first at ``start_at``); then stop cleanly."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, jobs, start_at=start_at, on_error=on_error)

    def stop(signum: int, _frame: Any) -> None:
        # Wait for a running job to finish, so that nothing runs (or logs) after the worker says it stopped.
        from apscheduler.schedulers import SchedulerNotRunningError

        try:
            scheduler.shutdown(wait=True)
        except SchedulerNotRunningError:  # a second signal while stopping
            pass

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start_jobs(
    jobs: list[Job], *, start_at: datetime, on_error: Callable[[Job, BaseException], None]
) -> Callable[[], None]:
    """Run the jobs in a background thread (a server's built-in worker); returns the function that stops it."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, jobs, start_at=start_at, on_error=on_error)
    scheduler.start()
    return lambda: scheduler.shutdown(wait=True)


def add_jobs(
    scheduler: Any, jobs: list[Job], *, start_at: datetime, on_error: Callable[[Job, BaseException], None]
) -> None:
    """Add each job with ``coalesce``, no misfire limit and one instance at a time."""
    for job in jobs:
        # An interval job runs first when the worker starts; a job at a time of day waits for it.
        # (next_run_time=None would add the job paused, so the option is left out instead.)
        first: dict[str, Any] = {"next_run_time": start_at} if job.every_seconds is not None else {}
        scheduler.add_job(
            _guarded(job, on_error),
            job.trigger(),
            coalesce=True,
            misfire_grace_time=None,
            max_instances=1,
            id=job.id,
            name=job.description or job.id,
            **first,
        )


def _guarded(job: Job, on_error: Callable[[Job, BaseException], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            job.run()
        except Exception as exc:  # one failed run must not stop the worker; the next one retries
            on_error(job, exc)

    return run
