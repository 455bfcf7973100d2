"""Prometheus metrics (``prometheus_client``) for the worker and the server, or as text for node_exporter (``text``).

Reminders sent and failed (counters), the due backlog and the age of the oldest due reminder, the sweep's
duration, and open cases by plan and state (gauges read from the database at each scrape). Labels are
plan ids and states only: never a case id, a login or anything about a citizen.

``indsats worker`` and ``indsats server`` serve it on a port of its own (``--metrics-port``, ``metrics.serve(port)``);
an ASGI app may mount it instead (``metrics.asgi_app()``).
"""

from __future__ import annotations

from indsats.adapters.files import os_reason
from indsats.i18n import _
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.reminders.sweep import SweepResult


class Metrics:
    """The indsats metrics in a registry of their own (no process or platform collectors mixed in)."""

    def __init__(self, ctx: Context) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.ctx = ctx
        self.port: int | None = None  # set by serve()
        self._server: Any = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.sent = Counter("indsats_reminders_sent", "Reminders and escalations delivered.", registry=self.registry)
        self.failed = Counter(
            "indsats_reminders_failed", "Deliveries that failed (to be retried, or for good).", ["outcome"],
            registry=self.registry,
        )
        self.sweep_seconds = Histogram(
            "indsats_sweep_duration_seconds", "How long one sweep took.", registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.registry.register(_DatabaseCollector(ctx))

    def count_sweep(self, result: SweepResult) -> None:
        self.sent.inc(result.sent)
        self.failed.labels(outcome="retrying").inc(result.retrying)
        self.failed.labels(outcome="failed").inc(result.failed)

    def serve(self, port: int, *, address: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``address:port`` from a daemon thread until ``stop()``; a port that is taken
        (or an address not ours) is ``StorageUnavailable`` (exit 7), at start."""
        from prometheus_client import start_http_server

        from indsats.errors import StorageUnavailable

        try:
            self._server, _thread = start_http_server(port, addr=address, registry=self.registry)
        except OSError as exc:
            raise StorageUnavailable(_("cannot serve metrics on {address}:{port}: {error}").format(address=address, port=port, error=os_reason(exc))) from None
        self.port = port

    def stop(self) -> None:
        """Stop serving (if ``serve`` was called)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def asgi_app(self) -> Any:
        """An ASGI app answering with the metrics, for the server to mount."""
        from prometheus_client import make_asgi_app

        return make_asgi_app(registry=self.registry)

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")


def serve_metrics(ctx: Context, port: int | None, *, address: str = "127.0.0.1") -> Metrics | None:
    """``Metrics`` served on ``address:port`` (``stop()`` ends it), or ``None`` when no port is set."""
    if port is None:
        return None
    metrics = Metrics(ctx)
    metrics.serve(port, address=address)
    return metrics


class _DatabaseCollector:
    """Gauges read at each scrape: the due backlog, the oldest due reminder's age, open cases by state."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def describe(self) -> list[Any]:
        return []  # the metric names are fixed; no need to query the database when registering

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from indsats.engine.reminders.backlog import due_backlog
        from indsats.errors import IndsatsError

        up = GaugeMetricFamily("indsats_database_up", "1 when the database answered this scrape.")
        try:
            backlog = due_backlog(self.ctx)
        except IndsatsError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("indsats_due_reminders", "Reminders due now and not yet delivered.", value=backlog.due)
        yield GaugeMetricFamily(
            "indsats_oldest_due_reminder_age_seconds", "How long the oldest due reminder has been due (0: none).",
            value=backlog.oldest_age_seconds,
        )
        cases = GaugeMetricFamily("indsats_open_cases", "Open cases by plan and state.", labels=["plan", "state"])
        for (plan_id, state), count in sorted(backlog.open_by_state.items()):
            cases.add_metric([plan_id, state], count)
        yield cases
