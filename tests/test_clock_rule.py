"""Time is injected: nothing under ``indsats/engine/`` reads the system clock; services ask their ``Clock``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "indsats" / "engine"
# Word boundaries, so that datetime.timedelta or a method called update_today() do not count.
READS_THE_SYSTEM_CLOCK = re.compile(r"\bdatetime\.(?:now|utcnow)\b|\bdate\.today\b|\btime\.time\(")


def clock_reads(text: str) -> list[str]:
    return [
        f"{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if READS_THE_SYSTEM_CLOCK.search(line)
    ]


def test_nothing_under_engine_reads_the_system_clock() -> None:
    files = sorted(ENGINE.rglob("*.py"))
    assert files, f"no engine modules found under {ENGINE}"
    found = {
        str(path.relative_to(ENGINE.parent.parent)): reads
        for path in files
        if (reads := clock_reads(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "the engine must ask its Clock (clock.now()), not the system: " + repr(found)


@pytest.mark.parametrize(
    "line",
    [
        "now = datetime.now(timezone.utc)",
        "now = datetime.datetime.now()",
        "stamp = datetime.utcnow()",
        "today = date.today()",
        "today = datetime.date.today()",
        "t0 = time.time()",
        "created: datetime = field(default_factory=datetime.now)",
    ],
)
def test_the_rule_catches_every_way_of_reading_the_clock(line: str) -> None:
    assert clock_reads(line)


@pytest.mark.parametrize(
    "line",
    [
        "from datetime import datetime, timedelta",
        "delta = datetime.timedelta(hours=1)",
        "now = clock.now()",
        "self.mandate.today_count = 0",
        "at = ctx.clock.now().replace(microsecond=0)",
    ],
)
def test_the_rule_lets_clock_reads_and_timedelta_pass(line: str) -> None:
    assert not clock_reads(line)
