"""One writer at a time within a process on SQLite, queued in the process rather than on SQLite's lock.

SQLite lets one transaction write at a time and makes the others wait in its busy handler, which polls: it
sleeps 1, 2, 5, 10… ms between tries, so threads of one process (``indsats server``'s thread pool, its
worker) that write at once mostly sleep while the lock is free, and a transaction that began as a read and
must become a write starts again (``hot.py``). So every unit of work that writes takes this process's turn
first, for as long as it lasts; one that waits longer than the busy timeout goes on without it and meets
SQLite's own wait and error, as before. Another process's writers still queue on SQLite's lock.
"""

from __future__ import annotations

import threading


class WriteTurn:
    """The process's writing turn on one SQLite database (reentrant: a unit of work inside another's thread)."""

    def __init__(self, timeout_ms: int) -> None:
        self._lock = threading.RLock()
        self._timeout = max(timeout_ms, 0) / 1000

    def take(self) -> bool:
        """Wait for the turn (up to the busy timeout); whether it was taken (then ``give_back`` it)."""
        return self._lock.acquire(timeout=self._timeout)

    def give_back(self) -> None:
        self._lock.release()
