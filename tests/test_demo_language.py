"""``indsats demo`` tells its story in the installation's language: with ``language = "da"`` no English interface
word (the words of ``tests/test_i18n_walk.py``), with ``language = "en"`` no Danish one. The plan's own labels
(states, triggers) and the people's logins and role ids are the same in both."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from test_i18n_walk import DANISH, ENGLISH

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

# The demo's own Danish words, which must not be in the English story.
DANISH_DEMO = ["Ingen har handlet", "underretter sin leder", "afvist", "Historik", "hændelser", "Adgangslog",
               "Færdig", "Prøv selv", "Oprettet", "Rykket videre", "niveau", "eksempel", "krypteret", "i orden"]
LOGINS_AND_ROLES = {"admin", "sol", "lea", "emil", "fie", "socialchef", "leder", "medarbejder", "fagspecialist"}


def demo(invoke: Callable[..., Result], tmp_path: Path, language: str) -> str:
    result = invoke(["demo", "--keep", str(tmp_path / "demo")], INDSATS_LANGUAGE=language)
    assert result.exit_code == 0, result.output
    return result.output


def english_words(text: str, tmp_path: Path) -> list[str]:
    text = text.replace(str(tmp_path), " ")
    text = re.sub(r"\b[A-Z]+-\d{4}-\d{4}\b|\S+@\S+|'\w+'", " ", text)  # case ids, addresses, quoted ids
    return sorted(set(re.findall(r"[^\W\d_]+", text)) & set(ENGLISH) - LOGINS_AND_ROLES)


def test_in_danish_the_demo_has_no_english_word(invoke: Callable[..., Result], tmp_path: Path) -> None:
    story = demo(invoke, tmp_path, "da")
    assert english_words(story, tmp_path) == []
    assert "Nærmeste leder er underrettet → Nærmeste leder underrettet" in story
    assert "Historik: 9 hændelser — Oprettet, Påmindelse sendt, Eskaleret" in story


def test_in_english_the_demo_has_no_danish_interface_word(invoke: Callable[..., Result], tmp_path: Path) -> None:
    story = demo(invoke, tmp_path, "en")
    assert [w for w in DANISH + DANISH_DEMO if w in story] == []
    assert "Nobody acted. The reminder job runs its sweep:" in story
    assert "History: 9 events — Opened, Reminder sent, Escalated" in story
