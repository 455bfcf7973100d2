"""A use case whose value is a long list read in pages (``stuck --all``), sent as it is read.

The answer is ``application/x-ndjson``: one line per item (``indsats.wire``'s encoding, as in a list), then one
closing line, ``{"__end__": true}``, or, when the list fails part way, ``{"__problem__": {...}}`` (a problem
document, as ``problems.py`` makes them). A client that sees the body end without either knows the server
stopped part way. Neither side holds the list: the server a page and a few batches of lines in the queue
below, the client a line.

The items are produced in one thread of their own, start to end: the use case's read transaction and its
database connection stay in the thread that opened them. An error before the first item (who is asking, bad
arguments) is answered as any other error: a problem document with its status.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

MEDIA_TYPE = "application/x-ndjson"
END = "__end__"
PROBLEM = "__problem__"
_BATCH = 256  # items per message from the producing thread to the event loop
_QUEUED = 8  # messages waiting at most: what the server holds beyond the page being read
_POLL = 0.25  # seconds between looks at whether the client went away, while the queue is full
_STALLED = 300.0  # seconds with nothing taken from a full queue: the client is gone (as the client's own timeout)


class Producer(threading.Thread):
    """Runs ``make`` and encodes its items into lines, a batch per message, in one thread."""

    def __init__(self, make: Callable[[], Iterator[Any]]) -> None:
        super().__init__(name="indsats-stream", daemon=True)
        self._make = make
        self.messages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_QUEUED)
        self.stopped = threading.Event()  # the client went away: stop reading

    def run(self) -> None:
        from indsats import wire
        from indsats.server.problems import problem_of

        try:
            items = self._make()
        except BaseException as exc:  # answered as a problem document by the request's thread
            self._put(("error", exc))
            return
        try:
            if not self._put(("started", None)):
                return
            batch: list[str] = []
            for item in items:
                batch.append(json.dumps(wire.encode(item), ensure_ascii=False))
                if len(batch) >= _BATCH:
                    if not self._put(("lines", _lines(batch))):
                        return
                    batch = []
            batch.append(json.dumps({END: True}))
            self._put(("lines", _lines(batch)))
        except Exception as exc:
            problem = problem_of(exc)
            if not isinstance(exc, _expected()):
                import logging

                logging.getLogger("indsats.server").error(
                    "use case failed unexpectedly while streaming", exc_info=exc,
                    extra={"fields": {"error": type(exc).__name__}})
            self._put(("lines", _lines([*batch, json.dumps({PROBLEM: problem}, ensure_ascii=False)])))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # ends the read transaction now, also when the client went away
            self._put(("done", None))

    def first(self) -> None:
        """Wait for the use case to start; raise what it raised before its first item."""
        kind, value = self.messages.get()
        if kind == "error":
            raise value

    async def body(self) -> AsyncIterator[bytes]:
        """The lines as they come (for ``StreamingResponse``); stops the producer when the client goes."""
        from anyio import to_thread

        try:
            while True:
                kind, value = await to_thread.run_sync(self._next, abandon_on_cancel=True)
                if kind == "done":
                    return
                yield value
        finally:
            self.stopped.set()

    def _next(self) -> tuple[str, Any]:
        """The next message; never waits on a producer that is gone or told to stop (a worker thread blocked
        here for good would keep the server from exiting)."""
        while True:
            try:
                return self.messages.get(timeout=_POLL)
            except queue.Empty:
                if self.stopped.is_set() or not self.is_alive():
                    return ("done", None)

    def _put(self, message: tuple[str, Any]) -> bool:
        """Queue ``message``, waiting while the queue is full; False once the client went away (or nothing was
        taken for ``_STALLED`` seconds: the read transaction is not held for a reader that never comes)."""
        for _ in range(int(_STALLED / _POLL)):
            if self.stopped.is_set():
                return False
            try:
                self.messages.put(message, timeout=_POLL)
                return True
            except queue.Full:
                continue
        self.stopped.set()
        return False


def _lines(batch: list[str]) -> bytes:
    return ("\n".join(batch) + "\n").encode("utf-8")


def _expected() -> type[BaseException]:
    from indsats.errors import IndsatsError

    return IndsatsError
