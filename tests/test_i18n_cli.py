"""Every command of the command line in the language of the installation: with ``language = "da"``, the help of
every group and command, a normal run of each (the runs of the ``--json`` tree walk, read as a person reads
them) and a cheap error of each print no English interface word; with ``language = "en"`` no Danish one.

What stays as it is in both languages is taken out before the words are compared: command and option names,
the values of choices, ids of the plan, logins, case ids, file paths, and ``--json`` keys (no run here uses
``--json``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pytest

from conftest import ORGANISATION, PLAN
from indsats.engine.time.clock import LOCAL_TZ
from test_cli_json import NOT_ONE_OUTCOME, leaves, runs
from test_i18n_walk import CLI_ENGLISH, DANISH_CLI, plan_ids

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from click.testing import Result

    from indsats.engine.plans.catalog import PlanCatalog

    Invoke = Callable[..., Result]

# A plan with mistakes (a duration that is no duration, an unknown target state, an undeclared role).
BROKEN_PLAN = """\
id: brudt
title: Brudt plan
version: 1
language: da
case_prefix: BRU
roles: {medarbejder: {label: Medarbejder}}
initial_state: start
states:
  start: {label: Start, responsible: medarbejder, deadline: fire dage}
  slut: {label: Slut, terminal: true}
transitions:
  - {trigger: luk, from: start, to: intetsteds, allowed_roles: [medarbejder]}
  - {trigger: slut, from: start, to: slut, allowed_roles: [ukendt]}
"""


def groups(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from groups(command, (*prefix, name))


def tree() -> tuple[list[tuple[str, ...]], dict[tuple[str, ...], click.Command]]:
    from indsats.cli import main

    return list(groups(main)), dict(leaves(main))


def errors(tmp_path: Path, case_id: str) -> list[tuple[str, list[str], str, dict[str, str]]]:
    """Cheap mistakes, each refused in one line: (what, the arguments, who, extra environment)."""
    broken = tmp_path / "brudt.yaml"
    broken.write_text(BROKEN_PLAN, encoding="utf-8")
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("key_file = 5\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    return [
        ("show: no such case", ["show", "RAD-2026-9999"], "lea", {}),
        ("advance: no such trigger", ["advance", case_id, "nonsense"], "emil", {}),
        ("advance: not allowed", ["advance", case_id, "decide"], "emil", {}),
        ("advance: a missing field", ["advance", case_id, "assess"], "fie", {}),
        ("note: an empty file", ["note", case_id, "--note-file", str(empty)], "emil", {}),
        ("note: neither", ["note", case_id], "emil", {}),
        ("open: no such plan", ["open", "nosuchplan", "--subject", "X"], "emil", {}),
        ("open: no subject", ["open", PLAN], "emil", {}),
        ("users add: twice", ["users", "add", "emil", "--name", "Emil"], "admin", {}),
        ("users add: not an admin", ["users", "add", "nina", "--name", "Nina"], "emil", {}),
        ("users grant: no such role", ["users", "grant", "emil", "astronaut"], "admin", {}),
        ("users edit: both", ["users", "edit", "emil", "--reports-to", "lea", "--no-reports-to"], "admin", {}),
        ("users deactivate: still needed", ["users", "deactivate", "emil"], "admin", {}),
        ("users deputy: bad date", ["users", "deputy", "lea", "--to", "leo", "--from", "igår"], "admin", {}),
        ("unknown user", ["cases"], "nobody", {}),
        ("plans show: no such plan", ["plans", "show", "nosuchplan"], "admin", {}),
        ("plans validate: a broken plan", ["plans", "validate", str(broken)], "admin", {}),
        ("plans validate: no such file", ["plans", "validate", str(tmp_path / "nowhere.yaml")], "admin", {}),
        ("plans export: a missing folder", ["plans", "export", PLAN, "-o", str(tmp_path / "no" / "x.md")], "admin", {}),
        ("calendar due: no duration", ["calendar", "due", "2026-03-02T10:00", "fire", "dage"], "admin", {}),
        ("calendar due: no time", ["calendar", "due", "igår", "2", "hverdage"], "admin", {}),
        ("calendar closed: year 0", ["calendar", "closed", "--year", "0"], "admin", {}),
        ("seal: --show and --to", ["seal", "--show", "--to", str(tmp_path / "s")], "admin", {}),
        ("stuck: bad time", ["stuck", "--at", "igår"], "sup", {}),
        ("config: ill-typed", ["cases"], "emil", {"INDSATS_CONFIG": str(bad_config)}),
        ("config: bad language", ["cases"], "emil", {"INDSATS_LANGUAGE": "sv"}),
        ("subject export: a missing folder", ["subject", "export", "X", str(tmp_path / "no" / "s.json")], "admin", {}),
        ("keys new: exists", ["keys", "new", str(bad_config)], "admin", {}),
    ]


def read_everything(invoke: Invoke, tmp_path: Path, language: str) -> dict[str, str]:
    """What a person reads from every command in ``language``: help, a normal run, errors."""
    env = {"INDSATS_LANGUAGE": language}
    read: dict[str, str] = {}

    def run(name: str, args: list[str], user: str = "admin", **extra: str) -> Result:
        result = invoke(args, user=user, **{**env, **extra})
        read[name] = result.output
        return result

    assert run("init (first)", ["init"]).exit_code == 0
    for login, (role, reports_to) in ORGANISATION.items():
        reports_to = reports_to or ("sol" if role == "fagspecialist" else None)
        args = ["users", "add", login, "--name", login.title(), "--role", role, "--email", f"{login}@example.org"]
        assert run(f"users add {login}", args + (["--reports-to", reports_to] if reports_to else [])).exit_code == 0
    opened = run("open (first)", ["open", PLAN, "--subject", "BORGER-REF-1"], "emil")
    assert opened.exit_code == 0, opened.output
    case_id = opened.stdout.splitlines()[-1]

    paths, commands = tree()
    for path in paths:
        assert run(" ".join(("--help", *path)), [*path, "--help"]).exit_code == 0
    for path in commands:
        assert run(" ".join((*path, "--help")), [*path, "--help"]).exit_code == 0
        assert run(" ".join((*path, "--nonsense")), [*path, "--nonsense"]).exit_code == 2
    planned = runs(tmp_path, case_id)
    assert {" ".join(path) for path in commands} == {name for name, _, _ in planned} | set(NOT_ONE_OUTCOME)
    for name, args, user in planned:
        result = run(name, [*name.split(), *args], user)
        assert result.exit_code in (0, 7), f"{name}: {result.output}"  # health/db status: 7 is an outcome
    later = (datetime.now(LOCAL_TZ) + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")  # the CLI runs on the real clock
    for name, args, user in [("stuck (overdue)", ["stuck", "--at", later], "sup"),
                             ("remind (a sweep)", ["remind", "--at", later], "admin"),
                             ("worker --list-jobs", ["worker", "--list-jobs"], "admin"),
                             ("plans graph (dot)", ["plans", "graph", PLAN, "--format", "dot"], "admin")]:
        result = run(name, args, user)
        assert result.exit_code == 0, f"{name}: {result.output}"
    # What a person reads in the diagram: its labels (DOT's own words are the format's, not indsats').
    read["plans graph (dot)"] = "\n".join(re.findall(r'label="((?:[^"\\]|\\.)*)"', read["plans graph (dot)"]))
    for name, args, user, extra in errors(tmp_path, case_id):
        result = run(name, args, user, **extra)
        assert result.exit_code not in (0, 1), f"{name}: {result.output}"
    return read


def kept(catalog: PlanCatalog) -> list[str]:
    """What stays English (or as it is) in both languages: the plan's ids, command and option names, choices."""
    from indsats.cli import main

    found = plan_ids(catalog) | {*ORGANISATION, "admin"}
    objects: list[click.Command] = [main]
    while objects:
        command = objects.pop()
        found.add(command.name or "")
        for param in command.params:
            if isinstance(param.type, click.Choice):
                found |= {str(c) for c in param.type.choices}
        if isinstance(command, click.Group):
            objects.extend(command.commands.values())
    found |= {"nina", "Nina", "nobody", "nosuchplan", "nonsense", "astronaut", "brudt", "BRU", "intetsteds",
              "ukendt", "luk", "slut", "start", "json", "html", "md", "mermaid", "svg", "dot", "sqlite", "UTC",
              "Europe", "Copenhagen", "Prometheus", "node_exporter", "SMTP", "OIDC", "PKCE", "Graphviz"}
    return sorted(found - {""}, key=len, reverse=True)


def words_of(text: str, known: list[str]) -> set[str]:
    """The words a person reads: no file paths, options, environment variables, case ids, ids or keys."""
    text = re.sub(r"\S*/\S*", " ", text)  # file paths, URLs
    text = re.sub(r"\S+@\S+", " ", text)  # e-mail addresses
    text = re.sub(r"\b\w+(?:\.\w+)+\b", " ", text)  # a field's place in a plan (states.start.deadline), file names
    text = re.sub(r"(?<![\w-])--?[\w-]+", " ", text)  # options
    text = re.sub(r"\bINDSATS_\w+", " ", text)  # environment variables
    text = re.sub(r"\b[A-Z]+-\d{4}-\d{4}\b", " ", text)  # case ids
    text = re.sub(r"\b\w+(?:_\w+)+\b", " ", text)  # snake_case ids and config keys
    text = re.sub(r"'indsats [^']*'|indsats [a-z][a-z ]*", " ", text)  # a command line to run
    for word in known:
        text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w])", " ", text)
    return set(re.findall(r"[^\W\d_]+", text))


# What another engineer's files still said in English when this test was written (the demo's narration, engine/org's
# duties and require_admin's default, the history's payload keys of a pause and a resume): left out of the Danish
# check while they did. They speak Danish now (issue 16, daweb), so nothing is left out.
ELSEWHERE: dict[str, str] = {}


@pytest.mark.slow
def test_in_danish_every_command_speaks_danish(invoke: Invoke, catalog: PlanCatalog, tmp_path: Path,
                                               danish: None) -> None:
    read = read_everything(invoke, tmp_path, "da")
    known = kept(catalog)
    english = set(CLI_ENGLISH)
    found = {name: sorted(words_of(text, known) & english) for name, text in read.items() if name not in ELSEWHERE}
    assert {name: words for name, words in found.items() if words} == {}
    assert "Brug: main users add [TILVALG] LOGIN" in read["users add --help"]
    assert "Fejl: Tilvalget '--nonsense' findes ikke." in read["show --nonsense"]
    assert "Tilføjede emil (medarbejder (radikalisering))." in read["users add emil"]
    assert "4 arbejdstimer" in read["plans show"]
    assert "frist 4 arbejdstimer" in read["plans graph (dot)"]


@pytest.mark.slow
def test_in_english_every_command_speaks_english(invoke: Invoke, catalog: PlanCatalog, tmp_path: Path) -> None:
    read = read_everything(invoke, tmp_path, "en")
    overridden = {name for name, _args, _user, extra in errors(tmp_path, "RAD-2026-0001") if "INDSATS_LANGUAGE" in extra}
    found = {name: [word for word in DANISH_CLI if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text)]
             for name, text in read.items() if name not in overridden}
    assert {name: words for name, words in found.items() if words} == {}
    assert "Usage: main users add [OPTIONS] LOGIN" in read["users add --help"]
    assert "Added emil (medarbejder (radikalisering))." in read["users add emil"]
    assert "4 working hours" in read["plans show"]
    assert "deadline 4 working hours" in read["plans graph (dot)"]
