"""Danish for the people who use it: the catalogs are complete and compiled, the ``language`` setting
chooses, Danish by default, and the command line speaks it without loading Babel."""

from __future__ import annotations

import gettext
import io
import re
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from indsats import i18n

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    Invoke = Callable[..., Result]

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "indsats" / "locale"


def catalog(language: str):  # type: ignore[no-untyped-def]
    from babel.messages.pofile import read_po

    with (LOCALE / language / "LC_MESSAGES" / "indsats.po").open("rb") as f:
        return read_po(f, locale=language)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The messages in the code, as `pybabel extract -F pyproject.toml` finds them."""
    from babel.messages.pofile import read_po

    pot = tmp_path_factory.mktemp("pot") / "indsats.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "pyproject.toml",
                    "-o", str(pot), "indsats"], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        return read_po(f)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_each_compiled_catalog_is_what_compiling_its_po_file_gives(language: str) -> None:
    from babel.messages.mofile import write_mo

    compiled = io.BytesIO()
    write_mo(compiled, catalog(language))
    compiled.seek(0)
    mo = LOCALE / language / "LC_MESSAGES" / "indsats.mo"
    with mo.open("rb") as shipped:
        # The messages, not the bytes or the header: each Babel release writes its own "Generated-By" line.
        assert _messages(compiled) == _messages(shipped), (
            f"{mo} is stale: run `pybabel compile -d indsats/locale -D indsats`")


def _messages(mo: io.BufferedIOBase | io.BytesIO) -> dict[object, str]:
    found: dict[object, str] = dict(gettext.GNUTranslations(mo)._catalog)  # type: ignore[attr-defined]
    found.pop("", None)
    return found


def test_every_message_in_the_code_has_a_danish_translation(extracted) -> None:  # type: ignore[no-untyped-def]
    da = catalog("da")
    missing = [m.id for m in extracted if m.id and not (da.get(m.id) and _translated(da.get(m.id)))]
    assert missing == [], (
        "messages without Danish: add them to indsats/locale/*/LC_MESSAGES/indsats.po (see [tool.babel] in "
        f"pyproject.toml: extract, update --no-fuzzy-matching, translate, compile): {missing}")


def test_every_message_in_the_code_is_in_the_english_catalog(extracted) -> None:  # type: ignore[no-untyped-def]
    en = catalog("en")
    assert [m.id for m in extracted if m.id and en.get(m.id) is None] == []


def test_the_danish_translations_keep_the_placeholders_of_their_message() -> None:
    import re

    placeholder = re.compile(r"\{(\w*)[^{}]*\}")
    wrong = []
    for m in catalog("da"):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        allowed = set().union(*(placeholder.findall(text) for text in ids))
        for text in strings:
            if not set(placeholder.findall(text)) <= allowed:
                wrong.append((m.id, text))
    assert wrong == []


def test_a_plans_state_is_trin_in_danish_wherever_a_person_reads_it() -> None:
    """The CLI says "Trin" (trinnet, trin) for a plan's state; the web view and the report say the same, never
    "Tilstand" (which Danish keeps for a server's health or a file's mode)."""
    state = re.compile(r"\bstates?\b", re.IGNORECASE)
    other = []
    for m in catalog("da"):
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if any(state.search(re.sub(r"\{[^{}]*\}", "", text)) for text in ids if text):
            other += [(ids[0], text) for text in strings if "tilstand" in text.lower()]
    assert other == []
    da = gettext.translation("indsats", localedir=LOCALE, languages=["da"])
    assert {da.gettext(word) for word in ("State", "States", "state")} == {"Trin", "trin"}


def _translated(message) -> bool:  # type: ignore[no-untyped-def]
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


# -- the setting ---------------------------------------------------------------------------------


def test_danish_is_the_default_and_english_is_a_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('language = "en"\n', encoding="utf-8")
    assert i18n.configured_language({"INDSATS_CONFIG": ""}) == "da"
    assert i18n.configured_language({"INDSATS_CONFIG": str(config)}) == "en"
    assert i18n.configured_language({"INDSATS_CONFIG": str(config), "INDSATS_LANGUAGE": "da"}) == "da"


def test_the_settings_carry_the_language_and_refuse_an_unknown_one(tmp_path: Path) -> None:
    from indsats.config import load_settings
    from indsats.errors import Invalid

    env = {"INDSATS_CONFIG": "", "INDSATS_DATA_DIR": str(tmp_path)}
    assert load_settings(env).language == "da"
    assert load_settings({**env, "INDSATS_LANGUAGE": "EN"}).language == "en"
    with pytest.raises(Invalid, match="INDSATS_LANGUAGE"):
        load_settings({**env, "INDSATS_LANGUAGE": "sv"})


def test_help_and_errors_speak_the_language_asked_for(invoke: Invoke) -> None:
    danish = invoke(["--help"], INDSATS_LANGUAGE=None)
    english = invoke(["--help"], INDSATS_LANGUAGE="en")
    assert "Brug:" in danish.output and "Vis denne besked og afslut." in danish.output
    assert "Usage:" in english.output and "Show this message and exit." in english.output
    assert "Show this message and exit." not in danish.output
    error = invoke(["show", "RAD-2026-0001"], INDSATS_LANGUAGE="da")
    assert error.stderr.startswith("Fejl: ")


def test_a_value_that_is_no_number_is_refused_naming_the_kind_of_number_in_danish(invoke: Invoke) -> None:
    # Click fills in its number types' English names ("integer range"); they are said in Danish too.
    whole = invoke(["stuck", "--limit", "2.5", "--json"], INDSATS_LANGUAGE="da")
    decimal = invoke(["worker", "--every", "x"], INDSATS_LANGUAGE="da")
    english = invoke(["stuck", "--limit", "abc"], INDSATS_LANGUAGE="en")

    assert (whole.exit_code, whole.output.strip()) == (
        2, '{"error": "Ugyldig værdi for \'--limit\': \'2.5\' er ikke et gyldigt heltal.", "exit_code": 2}')
    assert decimal.exit_code == 2
    assert decimal.stderr.splitlines()[-1] == "Fejl: Ugyldig værdi for '--every': 'x' er ikke et gyldigt decimaltal."
    assert english.stderr.splitlines()[-1] == "Error: Invalid value for '--limit': 'abc' is not a valid integer range."


def test_the_command_line_starts_without_babel_and_reads_only_its_own_catalog(tmp_path: Path) -> None:
    code = (
        "import sys; from indsats.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'babel' not in sys.modules, 'Babel is for building the catalogs, not for running'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("INDSATS_")}
    env.update(INDSATS_CONFIG="", INDSATS_DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Vis denne besked og afslut." in result.stdout


def test_no_message_is_asked_for_inside_an_f_string() -> None:
    """pybabel does not look inside f-strings: a ``_()`` there would never reach the catalogs."""
    inside = re.compile(r"""\bf(["']).*\{[^}]*(?<![\w.])_\(""")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "indsats").rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if inside.search(line)]
    assert found == []
