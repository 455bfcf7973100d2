"""The web view speaks the installation's language: with ``language = "da"`` no English interface word on its
pages (the words of ``tests/test_i18n_walk.py``), with ``language = "en"`` no Danish one; ``<html lang>`` says
which. A real ``indsats server --listen`` process per language, logged into through the OIDC provider mock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest

from conftest import PLAN, TEST_KEY
from test_i18n_walk import DANISH, ENGLISH, ids, words_of
from web_support import HOST, free_port, indsats_server, log_in, oidc_provider, private, running, server_env
from web_support import USERS, server_files, web_context

# The web view's own Danish words, which must not be on an English page.
DANISH_PAGE = ["Mine opgaver", "Fastlåste sager", "Logget ind som", "Log ud", "Historik", "Hændelse", "Skal handle",
               "Rykket videre", "Oprettet", "Tid på hvert trin", "Ingen adgang", "Filtrene kunne ikke bruges",
               "Tider vises i dansk tid", "Hent listen som CSV", "overskredet med", "Du er logget ud"]


@dataclass(frozen=True)
class Site:
    base: str
    language: str
    walked: str  # opened, notified, assessed, with a note and an acute call
    opened: str


def _build(db_url: str) -> tuple[str, str]:
    from indsats.engine.cases.service import add_note, advance, open_case

    ctx = web_context(db_url)
    walked = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF-A", source="parent", minor=True).case_id
    add_note(ctx, actor="emil", case_id=walked, text="Talt med skolen")
    advance(ctx, actor="emil", case_id=walked, trigger="notify_leader")
    advance(ctx, actor="emil", case_id=walked, trigger="acute", note="112 er ringet op")
    advance(ctx, actor="lea", case_id=walked, trigger="notify_specialist")
    advance(ctx, actor="fie", case_id=walked, trigger="assess",
            values={"summary": "Samtale med borgeren", "signs": "adfærd:stærkt,relationer:svagt", "infohus": "ja"})
    opened = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF-B", source="parent").case_id
    ctx.db.dispose()
    return walked, opened


@pytest.fixture(scope="module", params=["da", "en"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    here = tmp_path_factory.mktemp(f"web-{request.param}")
    db_url = f"sqlite:///{here}/web.db"
    walked, opened = _build(db_url)
    secret, config = server_files(here)
    base = f"http://{HOST}:{free_port()}"
    private(db_url)
    with oidc_provider(here / "provider.log", USERS) as issuer:
        env = server_env(db_url, TEST_KEY.decode(), issuer, secret, config)
        env["INDSATS_LANGUAGE"] = request.param
        with running(indsats_server(here, base.removeprefix("http://")), f"{base}/logged-out", here / "server.log",
                     env=env):
            yield Site(base=base, language=request.param, walked=walked, opened=opened)


def pages(site: Site) -> dict[str, str]:
    """What each person reads: their pages, a bad filter, a refusal, a missing case, the CSV, the logout."""
    read: dict[str, str] = {}
    sup, _ = log_in(site.base, "u-sup")
    for path in ("/stuck", "/stuck?overdue_by=soon", "/report", "/report?since=someday", f"/cases/{site.walked}",
                 f"/cases/{site.opened}", "/cases/RAD-2026-9999", "/stuck.csv"):
        read[f"sup {path}"] = sup.get(path).text
    lea, _ = log_in(site.base, "u-lea")
    read["lea /"] = lea.get("/").text
    read["lea case"] = lea.get(f"/cases/{site.walked}").text
    ida, _ = log_in(site.base, "u-ida")
    read["ida /stuck"] = ida.get("/stuck").text
    read["ida /"] = ida.get("/").text
    _, refused = log_in(site.base, "u-stranger")
    read["stranger"] = refused.text
    read["logged out"] = httpx.get(f"{site.base}/logged-out").text
    return read


def test_every_page_speaks_the_installation_s_language(site: Site) -> None:
    read = pages(site)
    for name, text in read.items():
        if not name.endswith(".csv"):
            assert f'<html lang="{site.language}">' in text, name
    if site.language == "da":
        known = ids(SimpleNamespace(catalog=_catalog()))  # type: ignore[arg-type]
        found = {name: sorted(words_of(text, known) & set(ENGLISH)) for name, text in read.items()}
        assert {name: words for name, words in found.items() if words} == {}
        case = read[f"sup /cases/{site.walked}"]
        assert "Rykket videre (Nærmeste leder er underrettet)" in case and "Notat" in case and "Oprettet" in case
        assert "Adfærd: stærkt, Relationer: svagt" in case
        assert read["sup /stuck.csv"].startswith("sag,plan,trin,skal handle")
    else:
        found_danish = {name: [w for w in DANISH + DANISH_PAGE if w in text] for name, text in read.items()}
        assert {name: words for name, words in found_danish.items() if words} == {}
        case = read[f"sup /cases/{site.walked}"]
        assert "History" in case and "Moved on (" in case and "Opened" in case
        assert read["sup /stuck.csv"].startswith("case,plan,state,must act")
        assert "My tasks" in read["lea /"] and "You are logged out" in read["logged out"]


def _catalog():  # type: ignore[no-untyped-def]
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog

    return PlanCatalog(PlanFolders())
