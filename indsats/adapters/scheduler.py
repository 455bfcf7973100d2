"""The reminder worker: APScheduler is only the clock that triggers a sweep on an interval.

``coalesce=True`` and ``misfire_grace_time=None``: APScheduler 3 silently skips a run more than one
second late by default; here a late run still happens, once. Nothing is lost while the worker is
down, because reminders are rows: the next sweep catches up.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any


def run_worker(
    run_sweep: Callable[[], Any],
    *,
    every_seconds: float,
    start_at: datetime,
    on_error: Callable[[BaseException], None],
) -> None:
    """Run ``run_sweep`` now and then every ``every_seconds`` until SIGTERM or SIGINT; then stop cleanly."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="UTC")

    def job() -> None:
        try:
            run_sweep()
        except Exception as exc:  # one failed sweep must not stop the worker; the next one retries
            on_error(exc)

    scheduler.add_job(
        job,
        "interval",
        seconds=every_seconds,
        next_run_time=start_at,
        coalesce=True,
        misfire_grace_time=None,
        max_instances=1,
        id="sweep",
    )

    def stop(signum: int, _frame: Any) -> None:
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
