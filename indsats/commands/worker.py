"""``indsats worker``: the long-running scheduler of the sweep and the nightly and weekly checks."""

from __future__ import annotations

import click

from indsats.commands.base import Obj, log_options, metrics_options, pass_obj, start_logging
from indsats.i18n import _


@click.command()
@click.option("--every", "every", default=None, type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Sweep every SECONDS (default 60, or [schedule] sweep_every).")
@click.option("--list-jobs", is_flag=True, help="Print the jobs with their next run, and exit.")
@metrics_options
@log_options
@pass_obj
def worker(obj: Obj, every: float | None, list_jobs: bool, metrics_port: int | None, metrics_address: str,
           log_level: str | None, log_format: str | None) -> None:
    """Run the sweep and the scheduled checks (seal, verify, retention, access sample) until SIGTERM/SIGINT."""
    from indsats.adapters.scheduler import next_runs, run_worker
    from indsats.bootstrap import build_notifier
    from indsats.jobs import build_jobs, log, log_failure, worker_id

    settings = obj.settings
    ctx = obj.context()
    notifier = build_notifier(settings)
    if list_jobs:
        from indsats.commands.render import local

        jobs = build_jobs(ctx, settings, notifier, every=every)
        for job, at in next_runs(jobs, ctx.clock.now(), start_at=ctx.clock.now()):
            said, what = _("next {at}").format(at=local(at)), _(job.description)
            click.echo(f"{job.id:<14} {job.when():<36} {said}  {what}")
        return
    start_logging(obj, log_level, log_format)
    from indsats.adapters.metrics import serve_metrics

    port = metrics_port or settings.metrics_port
    metrics = serve_metrics(ctx, port, address=metrics_address)
    me = worker_id()
    jobs = build_jobs(ctx, settings, notifier, every=every, metrics=metrics, me=me)
    with ctx.db.unit_of_work():  # the database answers and is at the expected schema, or exit 7 now
        pass
    log.info("worker started", extra={"fields": {
        "worker": me, "via": notifier.describe(), "jobs": ",".join(j.id for j in jobs),
        "sweep_every": jobs[0].every_seconds, "metrics_port": port,
    }})
    run_worker(jobs, start_at=ctx.clock.now(), on_error=log_failure)
    log.info("worker stopped", extra={"fields": {"worker": me}})
