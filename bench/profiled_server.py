"""``python -m bench.profiled_server OUT server ARGS…``: ``indsats server`` under cProfile, for a benchmark's
profile of the served side (``INDSATS_BENCH_SERVER_PROFILE=OUT`` in ``bench.server``).

Every thread is profiled (the event loop's and the thread pool's, each with its own profiler, started when
the thread first runs Python); when the server stops, their statistics are merged into the pstats file OUT.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import threading

_profilers: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_in_thread(*_args: object) -> None:
    """The first profile event of a new thread: give the thread its own profiler (which replaces this hook)."""
    profiler = cProfile.Profile()
    with _lock:
        _profilers.append(profiler)
    profiler.enable()


def main(argv: list[str]) -> None:
    out, args = argv[0], argv[1:]
    from indsats.cli import main as indsats

    threading.setprofile(_start_in_thread)
    main_profiler = cProfile.Profile()
    main_profiler.enable()
    try:
        indsats.main(args=args, prog_name="indsats", standalone_mode=False)
    finally:
        main_profiler.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        with _lock:
            stats = pstats.Stats(main_profiler)
            for profiler in _profilers:
                stats.add(profiler)
        stats.dump_stats(out)
        sys.stdout.flush()
        os._exit(0)  # the pool's threads hold profilers we have read; nothing more to run


if __name__ == "__main__":
    main(sys.argv[1:])
