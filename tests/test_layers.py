"""The layer rule: the engine does no I/O of its own and never reads the system clock.

Nothing under ``indsats/engine/`` opens a socket, a file or a subprocess, reads the environment or the
clock, or imports the libraries that do (SMTP, APScheduler, SQLAlchemy); it is handed ports
(``indsats/engine/ports.py``). Nor does it import the layers above it (``commands``, ``adapters``,
``server``, ``client``, ``cli``, ``bootstrap``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "indsats" / "engine"

# Each rule: a name and a pattern over one line of code (comments and docstrings are stripped first).
RULES: dict[str, re.Pattern[str]] = {
    # Word boundaries, so that datetime.timedelta or a method called update_today() do not count.
    "reads the system clock": re.compile(r"\bdatetime\.(?:now|utcnow)\b|\bdate\.today\b|\btime\.time\(|\bformatdate\("),
    "imports an I/O library": re.compile(
        r"^\s*(?:import|from)\s+(?:smtplib|subprocess|socket|apscheduler|sqlalchemy|shutil|urllib\.request|http)\b"
    ),
    "reads the environment": re.compile(r"\bos\.(?:environ|getenv|putenv)\b|\bfrom\s+os\s+import\b.*\benviron\b"),
    "opens a file": re.compile(
        r"(?<![.\w])(?<!def )open\(|\bos\.(?:open|fdopen|remove|unlink|rename|replace|mkdir|makedirs)\(|"
        r"\.(?:read_text|write_text|read_bytes|write_bytes|mkdir|unlink|iterdir|glob|rglob)\("
    ),
    "imports a layer above the engine": re.compile(
        r"^\s*(?:import|from)\s+indsats\.(?:adapters|commands|server|client|cli|bootstrap|demo)\b"
    ),
}


def _code_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a module without comments and docstrings (a docstring may say ``open(``)."""
    import ast
    import io
    import tokenize

    docstring_lines: set[int] = set()
    try:
        tree = ast.parse(text)
    except SyntaxError:  # one line given to the rule's own tests
        tree = ast.parse("")
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                docstring_lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    comments: dict[int, int] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, IndentationError):
        comments = {n: line.index("#") for n, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith("#")}
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number in docstring_lines:
            continue
        if number in comments:
            line = line[: comments[number]]
        out.append((number, line))
    return out


def violations(text: str) -> list[str]:
    return [
        f"{number}: {rule}: {line.strip()}"
        for number, line in _code_lines(text)
        for rule, pattern in RULES.items()
        if pattern.search(line)
    ]


def test_the_engine_does_no_io_and_reads_no_clock() -> None:
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 20, f"engine modules not found under {ENGINE}"
    found = {
        str(path.relative_to(ENGINE.parent.parent)): found
        for path in files
        if (found := violations(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "the engine is handed ports (engine/ports.py) and asks its Clock: " + repr(found)


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
        "mail['Date'] = formatdate(usegmt=True)",
        "import smtplib",
        "    import subprocess",
        "from socket import socket",
        "from apscheduler.schedulers.blocking import BlockingScheduler",
        "from sqlalchemy import select",
        "url = os.environ['INDSATS_DATABASE_URL']",
        "url = os.getenv('X')",
        "with open(path) as f:",
        "text = path.read_text(encoding='utf-8')",
        "fd = os.open(path, os.O_CREAT)",
        "from indsats.adapters.smtp import SmtpNotifier",
        "from indsats.commands.render import table",
    ],
)
def test_the_rule_catches_each_forbidden_line(line: str) -> None:
    assert violations(line)


@pytest.mark.parametrize(
    "line",
    [
        "from datetime import datetime, timedelta",
        "delta = datetime.timedelta(hours=1)",
        "now = clock.now()",
        "self.mandate.today_count = 0",
        "at = ctx.clock.now().replace(microsecond=0)",
        "ref = cipher.open(case.subject_ref)",
        "case = open_case(ctx, actor='a')",
        "# the SMTP adapter calls open() and formatdate()",
        "from indsats.engine.ports import Notifier",
    ],
)
def test_the_rule_lets_engine_code_pass(line: str) -> None:
    assert not violations(line)


def test_a_forbidden_import_added_to_an_engine_module_fails_the_rule(tmp_path: Path) -> None:
    module = (ENGINE / "reminders" / "sweep.py").read_text(encoding="utf-8")
    assert not violations(module)
    assert violations(module + "\nimport smtplib\n")
    assert violations(module.replace('"""\n', '"""\nimport os\nKEY = os.environ["K"]\n', 1))
