"""The worker's jobs, wired: the sweep, verify, the retention check, the access-log sample and the seal.

Used by ``indsats worker`` (and by ``indsats server``'s built-in worker). Each job logs one line with
its outcome (and the sweep one line per delivery) — ids, states, counts and roles only; an unexpected
error is logged with its traceback and the job runs again at its next time.

| job | when (default) | ``[schedule]`` key |
| --- | --- | --- |
| sweep | every 60 s | ``sweep_every`` (seconds; or ``worker --every``) |
| seal | 01:30 daily | ``seal`` |
| verify | 02:00 daily | ``verify`` |
| retention | 03:00 daily | ``retention`` |
| access-sample | Monday 06:00 | ``access_sample`` (and ``access_sample_size``, 20) |
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from indsats.i18n import N_, _
from indsats.adapters.scheduler import Job, parse_at
from indsats.errors import BadConfig, IndsatsError
from indsats.logs import scrub

if TYPE_CHECKING:
    from indsats.adapters.metrics import Metrics
    from indsats.config import Settings
    from indsats.engine.context import Context
    from indsats.engine.housekeeping import CheckResult
    from indsats.engine.ports import Notifier
    from indsats.engine.reminders.sweep import SweepResult

log = logging.getLogger("indsats.worker")

DEFAULT_SCHEDULE: dict[str, Any] = {
    "sweep_every": 60.0,
    "seal": "01:30",
    "verify": "02:00",
    "retention": "03:00",
    "access_sample": "mon 06:00",
    "access_sample_size": 20,
    "statistics": "04:00",
}


def worker_id(suffix: str = "") -> str:
    return f"{socket.gethostname()}:{os.getpid()}{suffix}"


def schedule_from(table: Mapping[str, Any], *, every: float | None = None) -> dict[str, Any]:
    """The ``[schedule]`` table over the defaults, checked; ``every`` (the --every flag) over both."""
    unknown = sorted(set(table) - set(DEFAULT_SCHEDULE))
    if unknown:
        raise BadConfig(_("unknown key '{key}' in [schedule] (known: {known})").format(
            key=unknown[0], known=", ".join(DEFAULT_SCHEDULE)))
    schedule = {**DEFAULT_SCHEDULE, **table}
    if every is not None:
        schedule["sweep_every"] = every
    for key in ("seal", "verify", "retention", "access_sample", "statistics"):
        try:
            parse_at(str(schedule[key]))
        except ValueError as exc:
            raise BadConfig(f"[schedule] {key}: {exc}") from None
    try:
        schedule["sweep_every"] = float(schedule["sweep_every"])
        schedule["access_sample_size"] = int(schedule["access_sample_size"])
    except (TypeError, ValueError):
        raise BadConfig("[schedule] sweep_every must be seconds and access_sample_size a whole number") from None
    if not schedule["sweep_every"] > 0 or schedule["access_sample_size"] < 1:
        raise BadConfig("[schedule] sweep_every and access_sample_size must be positive")
    return schedule


def build_jobs(
    ctx: Context,
    settings: Settings,
    notifier: Notifier,
    *,
    every: float | None = None,
    metrics: Metrics | None = None,
    me: str | None = None,
) -> list[Job]:
    """The six jobs, in the order they are listed."""
    schedule = schedule_from(settings.schedule, every=every)
    me = me or worker_id()
    lease = timedelta(seconds=settings.lease_seconds)
    mail_from = settings.mail_from

    def sweep_job() -> None:
        from indsats.engine.reminders.sweep import sweep

        started = time.perf_counter()
        result = sweep(ctx, notifier, worker=me, mail_from=mail_from, lease=lease)
        seconds = time.perf_counter() - started
        if metrics is not None:
            metrics.sweep_seconds.observe(seconds)
            metrics.count_sweep(result)
        beat(settings, ctx, me, result)
        log_sweep(result, seconds)

    def verify_job() -> None:
        from indsats.engine.housekeeping import verify_and_report

        log_check(verify_and_report(ctx, notifier, mail_from=mail_from))

    def retention_job() -> None:
        from indsats.engine.housekeeping import retention_report

        log_check(retention_report(ctx, notifier, mail_from=mail_from))

    def access_sample_job() -> None:
        from indsats.engine.housekeeping import access_sample_report

        log_check(access_sample_report(ctx, notifier, mail_from=mail_from, size=schedule["access_sample_size"]))

    def statistics_job() -> None:
        from indsats.engine.housekeeping import refresh_statistics

        log_check(refresh_statistics(ctx))

    jobs = [Job(id="sweep", description=N_("deliver due reminders and escalations"), run=sweep_job,
                every_seconds=schedule["sweep_every"])]
    def seal_job() -> None:
        from indsats.engine.log.seals import write_seal

        found = write_seal(ctx, actor=None)  # the system seals: no admin acting
        log.info("seal", extra={"fields": {"job": "seal", "outcome": "sealed", "seal": found.seq}})

    jobs.append(Job(id="seal", description=N_("sign a seal over every chain head"), run=seal_job, at=schedule["seal"]))
    jobs += [
        Job(id="verify", description=N_("verify the event log; tell admins of a break"), run=verify_job,
            at=schedule["verify"]),
        Job(id="retention", description=N_("count cases due for archive; tell admins"), run=retention_job,
            at=schedule["retention"]),
        Job(id="access-sample", description=N_("draw the weekly access-log sample for review"), run=access_sample_job,
            at=schedule["access_sample"]),
        Job(id="statistics", description=N_("refresh the query planner's statistics"), run=statistics_job,
            at=schedule["statistics"]),
    ]
    return jobs


def beat(settings: Settings, ctx: Context, me: str, result: SweepResult) -> None:
    """Leave the heartbeat ``indsats health`` reads: when the last sweep ran, and its counts."""
    from indsats.adapters.heartbeat import Heartbeat, write_heartbeat

    summary = f"{result.sent} sent, {result.retrying} to retry, {result.failed} failed"
    write_heartbeat(settings.data_dir, Heartbeat(at=ctx.clock.now(), worker=me, summary=summary))


def log_sweep(result: SweepResult, seconds: float) -> None:
    """One line per delivery, then one for the sweep."""
    for d in result.deliveries:
        outcome = "sent" if d.ok else "failed"
        level = logging.INFO if d.ok else logging.WARNING
        log.log(level, "delivery", extra={"fields": {
            "reminder_id": d.reminder_id, "case_id": d.case_id, "state": d.state, "kind": d.kind, "escalation": d.level,
            "outcome": outcome, "error": scrub(d.error),
        }})
    log.info("sweep", extra={"fields": {
        "job": "sweep", "claimed": result.claimed, "sent": result.sent, "coalesced": result.coalesced,
        "retrying": result.retrying, "failed": result.failed, "obsolete": result.obsolete,
        "not_listed": result.deliveries_not_listed, "seconds": round(seconds, 3),
        "outcome": "ok" if not (result.failed or result.retrying) else "failures",
    }})


def log_check(result: CheckResult) -> None:
    level = logging.INFO if result.ok and result.error is None else logging.WARNING
    log.log(level, result.check, extra={"fields": {
        "job": result.check, "outcome": "ok" if result.ok else "found", "count": result.count, "told": result.told,
        "error": scrub(result.error),
    }})


def log_failure(job: Job, exc: BaseException) -> None:
    """A job that raised: an IndsatsError in one line, anything else with its traceback."""
    if isinstance(exc, IndsatsError):
        log.error("job failed", extra={"fields": {"job": job.id, "outcome": "error", "error": scrub(exc.message)}})
    else:
        log.error("job failed unexpectedly", exc_info=exc,
                  extra={"fields": {"job": job.id, "outcome": "bug", "error": type(exc).__name__}})
