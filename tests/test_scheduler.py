"""The worker's clock: every job coalesces and has no misfire limit, so a run missed while the worker
was down happens once, late, instead of being skipped; times of day are Copenhagen time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from indsats.adapters.scheduler import Job, add_jobs, next_runs, parse_at, start_jobs


def test_every_job_coalesces_with_no_misfire_limit_and_one_instance() -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    jobs = [Job(id="sweep", description="", run=print, every_seconds=60),
            Job(id="verify", description="", run=print, at="02:00")]
    add_jobs(scheduler, jobs, start_at=datetime.now(timezone.utc), on_error=lambda job, exc: None)

    added = {j.id: j for j in scheduler.get_jobs()}
    assert set(added) == {"sweep", "verify"}
    assert all(j.coalesce and j.misfire_grace_time is None and j.max_instances == 1 for j in added.values())


def test_a_sweep_missed_ten_minutes_ago_runs_once_now_not_ten_times_nor_never() -> None:
    ran: list[datetime] = []
    done = threading.Event()

    def sweep() -> None:
        ran.append(datetime.now(timezone.utc))
        done.set()

    long_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
    stop = start_jobs([Job(id="sweep", description="", run=sweep, every_seconds=60)], start_at=long_ago,
                      on_error=lambda job, exc: None)
    try:
        assert done.wait(timeout=10), "the missed run was skipped"
    finally:
        stop()
    assert len(ran) == 1


def test_a_failing_job_is_reported_and_runs_again() -> None:
    errors: list[str] = []
    twice = threading.Event()

    def broken() -> None:
        raise RuntimeError("boom")

    def on_error(job: Job, exc: BaseException) -> None:
        errors.append(f"{job.id}: {exc}")
        if len(errors) >= 2:
            twice.set()

    stop = start_jobs([Job(id="sweep", description="", run=broken, every_seconds=0.1)],
                      start_at=datetime.now(timezone.utc), on_error=on_error)
    try:
        assert twice.wait(timeout=10)
    finally:
        stop()
    assert errors[:2] == ["sweep: boom", "sweep: boom"]


def test_times_of_day_are_copenhagen_time_across_daylight_saving() -> None:
    verify = Job(id="verify", description="", run=print, at="02:30")
    weekly = Job(id="access-sample", description="", run=print, at="mon 06:00")
    winter = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)  # a Monday
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)

    runs = dict((job.id, at) for job, at in next_runs([verify, weekly], winter))
    assert runs["verify"].astimezone(timezone.utc) == datetime(2026, 3, 3, 1, 30, tzinfo=timezone.utc)
    assert runs["access-sample"].astimezone(timezone.utc) == datetime(2026, 3, 9, 5, 0, tzinfo=timezone.utc)
    (_, at), = next_runs([verify], summer)
    assert at.astimezone(timezone.utc) == datetime(2026, 7, 2, 0, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["25:00", "02:60", "someday 02:00", "0200", "mon tue 02:00", ""])
def test_a_bad_time_of_day_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_at(text)
