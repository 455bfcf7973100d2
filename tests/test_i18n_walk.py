"""The walk through the radicalisation plan as its users read it: with ``language = "da"`` no English word in
``show``, ``tasks``, ``stuck``, ``report --html``, ``plans export --format md`` or the e-mails; with
``language = "en"`` the same walk in English.

The English words are the ones these outputs used before they spoke Danish (ids, case ids, logins, command
names and the plan's own text excluded: those stay as they are, in both languages).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import PLAN, TEST_KEY

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.context import Context
    from indsats.engine.plans.catalog import PlanCatalog
    from indsats.storage.database import Database

WEEK_LATER = "2026-03-09T09:00"  # a week after the `clock` fixture's Monday morning, local time

# What the outputs said in English before: the interface's own words (not the plan's text, not ids).
ENGLISH = """
Action Actions Alerting Approved Case Checklist Communication Concern Contact Counted Creation Deadline Deadlines
Escalation Field Final Follow From Management Must Next Opened Other Possible Recorded Reminder Requires Responsible
See Staffing State Step Strength Stuck Subject Tasks This Times Who Window Written You about above act activity after
and any are assessment attention because been beginning breaches card cards case cases change choice citizen
closed command day days deadline deliberately does done equipment escalations every exceeded failed first
follow from has holds hours in information it latest leader left level may message moves must nearest next
not now of on one only open opened optional overdue passed past percentile points receive recorded
reminder reminders repeated reply required responsible right role since someone source state step that the then
this up use when who whole working years yes you weak moderate strong as nobody none elapsed statutory published
calendar Triggers triggers trigger minutes hour week weeks month months minute Your tasks left TEXT YYYY STRENGTH
CATEGORY approaching task Escalation
""".split()

# The command line's own interface words in English as it printed them before it spoke Danish (help, outcome
# lines, tables, errors): ``ENGLISH`` and these; not words Danish writes the same (plan, status, version, login,
# database, data, e-mail, log, job, pause, note, information, start), ids, names or the plan's text.
CLI_ENGLISH = sorted(set(ENGLISH) | set("""
absent Access across act acted Action actions Actions active activity actor Add Added added Address ADDRESS adds
admins advanced again against Alerting alone already Also another any apart append Appended Approved Archived
archived ARGS as As asks assesses assignment At attention available away Backed backups bad beside both breaches
break bug bytes caller came can cannot cards carry CASE Cases Caseworker CATEGORY category certificate chains
Change change changed Changed changes chart checked Checked Checklist checkpoint cleared client Closed codes
COMMAND command Commands Communication Compare completely computed Concern concurrently configuration configured
conflict Contact contained copy Copy could Count Counted Create current Danish DATE Days DAYS Deactivate
Deactivated deactivated dead Deadline Deadlines declares declaring Default deliver details Did DIRECTORY
directory do document Done Dry DURATION duration durations duties Else else elsewhere employees empty encrypt
encrypted Encryption encryption ends entries equipment Errors escalated Escalation escalations Every everyone
everything Everything example exist exists Exit exit expected failure falls FIELD field Field files filled Final
finish fired First folder For found Fri friendly From Full full give go Grant Grants grants Hand hand handed
header healthy heard held his History holding holds holiday holidays HOST How identity if included Input instead
INTEGER integrity interrupt interrupted invalid itself justified Keep keep keeps kept kernel labels last latest
leave left level List listens locked longer looked machine Made Management manages many match mean message
missing Mon month months more most move Moved moved Must must NAME Name named narrated Nearest nearest need
needed needs Next next No Nobody none notes nothing now object off offset often old oldest One ones Only Open
Opened option optional Options OPTIONS Organisational Other others otherwise out outbox outside overdue
overwritten page passed password past path PATH paused Paused percentile personal piped place please point
points possible Possible present printed prints private problems projection proves public purged radicalisation
raised ran random RANGE reachability reachable reached Reactivated read Read reads ready receive receives
recomputed record Recorded records reference references refused Refused Refuses Register register Registered
registers Remove repeatable repeated replace Replay Requires resolved Resume resumed Resumed Retention retried
revise right Rotated rotation row rows Run running safe Say says scheduled schema Schema Sealed seconds SECONDS
secret seen sends serve Serve share shell shifted Short should Show Sign signing since soonest Staffing stands
started State States stored story Strength STRENGTH strength Subject such Sun Sweep sweeps Take takes Tasks
tells temporary TEXT than they those through Thu TIME today tour tries TRIGGER triggers Try unavailable
unchanged unexpected Unhealthy unhealthy unknown unless unreachable upgrade Usage usage use valid VALUE value
verdict view Viewed waited waits was Wednesday week weekday weekly weeks were What When where whether which
while Who whose why Why without would Would write Write writing Written wrong Wrote YEAR year yet You you
yourself YYYY
""".split()))

# Danish interface words that must not appear when English is asked for.
DANISH = ["Trin:", "Frist:", "Skal handle:", "Du kan nu:", "arbejdstimer", "arbejdsdage", "over fristen",
          "Påmindelse:", "Fastlåste sager", "Hvem skal handle", "Oprettet:", "påkrævet", "Handlekort:", "Tjekliste:",
          "Denne besked indeholder", "Tid på hvert trin", "Kontaktoplysninger"]

# The command line's Danish interface words (help, outcome lines, tables, errors) that must not appear in English.
DANISH_CLI = """
Brug Tilvalg Tilvalget TILVALG KOMMANDO ARGUMENTER Kommandoer Prøv hjælp Fejl Tilføjede Registrerede Databasen
Deaktiverede Genaktiverede Rettede stedfortræder Kontrollerede forsegling Forseglede hændelse hændelser
organisationshændelser Skemaversion forventet ajour planen gyldig problemer advarsel lukketid helligdag onsdag
arbejdsdag arbejdsdage arbejdstimer Handlinger betegnelse påkrævet Værdien angiv HELTAL FIL TEKST SAG HANDLING
VARIGHED ROLLE DATO SEKUNDER Sikkerhedskopierede Nøglen nøglefilen udbakke Prøvekørsel fastlåste tidspunkt hvorfor
ugedag titel godkendt revideres Exitkoder Arkiverede personoplysningerne Skrev sager Vis afslut forfaldne
Sagsbehandler oprettede Oprettet Trin trin frist Frist
""".split()


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """SQLite: the command line opens the same file as the test."""
    return sqlite_database


@pytest.fixture
def cli(invoke: Callable[..., Result], ctx: Context, tmp_path: Path) -> Callable[..., str]:
    """``cli(args, user)``: the command's output (it must succeed), on the test's database and key."""
    url = ctx.db.url.render_as_string(hide_password=False)

    def run(args: list[str], user: str) -> str:
        result = invoke(args, user=user, db_url=url, INDSATS_KEY=TEST_KEY.decode(),
                        INDSATS_OUTBOX=str(tmp_path / "outbox.jsonl"))
        assert result.exit_code == 0, result.output
        return result.stdout

    return run


def walk(ctx: Context, cli: Callable[..., str], tmp_path: Path) -> dict[str, str]:
    """Open → notified → assessed → decided, with an acute note and a reminder sweep; what each person read."""
    from indsats.engine.cases.service import advance, open_case

    read: dict[str, str] = {}
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="BORGER-REF-1", minor=True).case_id
    read["show (opened)"] = cli(["show", case_id], "emil")
    read["tasks (emil)"] = cli(["tasks"], "emil")
    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112 er ringet op")
    read["show (leader)"] = cli(["show", case_id], "lea")
    advance(ctx, actor="lea", case_id=case_id, trigger="notify_specialist")
    read["tasks (fie)"] = cli(["tasks"], "fie")
    read["show (specialist)"] = cli(["show", case_id], "fie")
    advance(ctx, actor="fie", case_id=case_id, trigger="assess",
            values={"summary": "Samtale med borgeren", "signs": "adfærd:stærkt,relationer:svagt", "infohus": "ja"})
    read["show (assessed)"] = cli(["show", case_id], "lea")
    read["tasks (lea)"] = cli(["tasks"], "lea")
    read["stuck"] = cli(["stuck", "--at", WEEK_LATER], "sup")
    cli(["remind", "--at", WEEK_LATER], "admin")
    advance(ctx, actor="emil", case_id=case_id, trigger="report_to_childrens_services",
            values={"reported_on": "2026-03-02"})
    advance(ctx, actor="lea", case_id=case_id, trigger="decide",
            values={"police_report": "nej", "rationale": "Ingen strafbare forhold", "follow_up": "Opsøgende arbejde"})
    read["show (decided)"] = cli(["show", case_id], "lea")
    page = tmp_path / "report.html"
    cli(["report", "--html", str(page)], "sup")
    read["report --html"] = page.read_text(encoding="utf-8")
    read["plans export --format md"] = cli(["plans", "export", PLAN, "--format", "md"], "admin")
    mails = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    for n, mail in enumerate(mails):
        read[f"e-mail {n + 1}"] = mail["subject"] + "\n" + mail["body"]
    return read


def plan_ids(catalog: PlanCatalog) -> set[str]:
    """The radicalisation plan's ids (states, roles, triggers, fields and their options, concern signs) and the
    rules' names for who is responsible: they stay as they are in every language."""
    plan = catalog.get(PLAN).plan
    found = {plan.id, plan.case_prefix, *plan.states, *plan.roles, *plan.sources, *plan.flags, *plan.case_deadlines}
    for t in plan.transitions:
        found |= {t.trigger, *t.fields}
        for spec in t.fields.values():
            found |= set(spec.options)
    if plan.concern_signs:
        found |= {c.id for c in plan.concern_signs.categories} | set(plan.concern_signs.strengths)
    return found | {"opener", "opener_leader", "opener_leader_leader", "on_case", "assignee"}


def ids(ctx: Context) -> list[str]:
    """What stays as it is in every language: the plan's ids, logins, command names."""
    found = plan_ids(ctx.catalog)
    found |= {"indsats", "show", "advance", "resume", "all", "set", "note", "emil", "lea", "leo", "ida", "fie", "sol"}
    return sorted(found, key=len, reverse=True)


def words_of(text: str, known_ids: list[str]) -> set[str]:
    """The words a person reads: no markup or style sheet, no case ids, ids or command lines."""
    text = re.sub(r"(?s)<style>.*?</style>", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\b[A-Z]+-\d{4}-\d{4}\b", " ", text)  # case ids
    text = re.sub(r"indsats (?:advance|show|resume)[^\n]*", " ", text)  # the command to run, with its ids
    for known in known_ids:
        text = re.sub(rf"(?<![\w-]){re.escape(known)}(?![\w])", " ", text)
    return set(re.findall(r"[^\W\d_]+", text))


@pytest.mark.slow
def test_in_danish_the_walk_shows_no_english_word(ctx: Context, org: Any, cli: Callable[..., str],
                                                   tmp_path: Path, danish: None) -> None:
    read = walk(ctx, cli, tmp_path)
    known = ids(ctx)
    english = set(ENGLISH)
    found = {name: sorted(words_of(text, known) & english) for name, text in read.items()}
    assert {name: words for name, words in found.items() if words} == {}
    assert any(text.startswith("Påmindelse: sag ") for text in read.values())
    assert "Styrke: svagt, moderat, stærkt" in read["plans export --format md"]
    assert "Adfærd: stærkt, Relationer: svagt" in read["show (decided)"]
    assert "Frist:       2026-03-02 13:00 (4 arbejdstimer)" in read["show (opened)"]


@pytest.mark.slow
def test_in_english_the_same_walk_is_in_english(ctx: Context, org: Any, cli: Callable[..., str],
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from indsats import i18n

    monkeypatch.setenv("INDSATS_LANGUAGE", "en")
    i18n.use("en")
    read = walk(ctx, cli, tmp_path)
    for name, text in read.items():
        assert [word for word in DANISH if word in text] == [], name
    assert "Deadline:   2026-03-02 13:00 (4 working hours)" in read["show (opened)"]
    assert "Who must act: Leder (the nearest leader of the one who opened the case)" in read["plans export --format md"]
    assert any(text.startswith("Reminder: case ") for text in read.values())
