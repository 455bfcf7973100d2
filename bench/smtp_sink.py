"""An SMTP sink for the benchmarks: aiosmtpd on 127.0.0.1 in its own process, counting what it accepts.

``python -m bench.smtp_sink PORT DELAY_MS`` prints ``ready``, serves until stdin closes, then prints
how many mails it accepted. ``DELAY_MS`` is added to every mail (a slow relay).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.harness import ROOT, child_env


class _Counting:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink(delay_ms: float = 0.0) -> Iterator[tuple[int, list[int]]]:
    """Run the sink process; yield its port and a list that holds the count once it has stopped."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(port), str(delay_ms)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT)
    assert process.stdin is not None and process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the SMTP sink did not start")
    received: list[int] = []
    try:
        yield port, received
    finally:
        out, _ = process.communicate("", timeout=30)
        received.append(int(out.strip() or 0))


def main(port: int, delay_ms: float) -> None:
    from aiosmtpd.controller import Controller

    handler = _Counting(delay_ms / 1000)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()
    print(handler.received, flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
