"""``show``'s record of what happened on a case, in the reader's language: each entry named by the plan's label
of its trigger or, without one (opened, a note, a pause, a caseworker named), by the kind of event in words;
never the log's own words ("opened", "note", "paused") or a trigger's id."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from conftest import PLAN, TEST_KEY

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

    from indsats.engine.context import Context
    from indsats.storage.database import Database

# The event kinds as the log stores them, and the triggers walked below: what a person must not read.
LOG_WORDS = ["opened", "advanced", "recorded", "note", "assigned", "paused", "resumed", "notify_leader", "acute",
             "notify_specialist", "assess"]


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    return sqlite_database


@pytest.fixture
def shown(invoke: Callable[..., Result], ctx: Context, org: Any, tmp_path: Path) -> Callable[[], str]:
    """A case walked through a few transitions with notes, a caseworker named and a pause; ``shown()`` is lea's
    ``show`` of it, in the language of the moment."""
    from indsats.engine.cases.assign import assign_case
    from indsats.engine.cases.pause import pause_case, resume_case
    from indsats.engine.cases.service import add_note, advance, open_case

    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="BORGER-REF-1", minor=True,
                        note="Bekymring fra skolen").case_id
    add_note(ctx, actor="emil", case_id=case_id, text="Talt med forældrene")
    advance(ctx, actor="emil", case_id=case_id, trigger="notify_leader")
    advance(ctx, actor="emil", case_id=case_id, trigger="acute", note="112 er ringet op")
    assign_case(ctx, actor="lea", case_id=case_id, login="emil", note="Emil følger sagen")
    pause_case(ctx, actor="lea", case_id=case_id, reason="Venter på skolen")
    resume_case(ctx, actor="lea", case_id=case_id)
    advance(ctx, actor="lea", case_id=case_id, trigger="notify_specialist")
    advance(ctx, actor="fie", case_id=case_id, trigger="assess",
            values={"summary": "Samtale med borgeren", "signs": "adfærd:stærkt", "infohus": "ja"})
    url = ctx.db.url.render_as_string(hide_password=False)

    def show() -> str:
        result = invoke(["show", case_id], user="lea", db_url=url, INDSATS_KEY=TEST_KEY.decode())
        assert result.exit_code == 0, result.output
        return result.stdout

    return show


def recorded(text: str) -> list[str]:
    """The entries of show's record: 'at  who: what' lines under the record's heading."""
    return re.findall(r"^  \d{4}-\d\d-\d\d \d\d:\d\d  (\w*: .*)$", text, re.MULTILINE)


def test_in_danish_show_names_each_entry_in_danish(shown: Callable[[], str], danish: None) -> None:
    entries = recorded(shown())
    assert entries == ["emil: Oprettet", "emil: Notat", "emil: Akut – politiet kontaktet på 112/114",
                       "lea: Sagsbehandler udpeget", "lea: Sat på pause", "fie: Vurdering foretaget"]
    assert [w for w in LOG_WORDS if any(re.search(rf"\b{w}\b", e) for e in entries)] == []


def test_in_english_show_names_each_entry_in_english(shown: Callable[[], str]) -> None:
    entries = recorded(shown())
    assert entries[:2] == ["emil: Opened", "emil: Note"]
    assert entries[3:5] == ["lea: Caseworker named", "lea: Paused"]
    assert [w for w in LOG_WORDS if any(re.search(rf"\b{w}\b", e) for e in entries)] == []
