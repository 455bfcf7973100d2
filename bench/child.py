"""Run one benchmark function in a fresh interpreter and print its result, with peak RSS, as JSON.

With a third argument, the function gets ``profile_to=`` and profiles its timed part (``profiled``).

``python -m bench.child bench.sweep_outbox:indsats_child '{"db": "..."}' [PROFILE_FILE]``
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's high-water resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> None:
    target, args = argv[0], json.loads(argv[1])
    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    if len(argv) > 2:  # the function profiles its own timed part into this file
        args["profile_to"] = argv[2]
    result = fn(**args)
    print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main(sys.argv[1:])
