"""What a person reads through the HTTP API is in the installation's language: a problem document's ``detail``
(its ``type``, ``title``, ``status`` and ``exit_code`` stay as they are, machine-stable), the 401's detail, and
the thin client's errors. The apps are served in this process (Starlette's test client), as the server would."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.context import Context


def _test_client(app: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette 1.x would rather have httpx2; httpx works the same
        from starlette.testclient import TestClient
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def answers(ctx: Context, org: Any, tmp_path: Path) -> Callable[[], dict[str, dict[str, Any]]]:
    """The problem documents of a few refusals: /v1 without a caller, /v1 of no use case, /api without a token."""
    from indsats.config import load_settings
    from indsats.server.app import build_app
    from indsats.server.web.app import create_app
    from indsats.server.web.oidc import OidcConfig

    settings = load_settings({"INDSATS_CONFIG": "", "INDSATS_DATA_DIR": str(tmp_path)})
    v1 = build_app(ctx, settings)
    web = create_app(lambda: ctx, OidcConfig(issuer="http://127.0.0.1:9", client_id="indsats-web"),
                     session_key="k" * 32)

    def ask() -> dict[str, dict[str, Any]]:
        with _test_client(v1) as client:
            found = {"no caller": client.post("/v1/show", json={"args": {"case_id": "RAD-2026-0001"}}).json(),
                     "no use case": client.post("/v1/nothing-here", json={}).json()}
        with _test_client(web) as client:
            found["no token"] = client.get("/api/stuck").json()
        return found

    return ask


def test_in_danish_the_problem_details_are_danish_and_the_rest_stays(answers: Callable[[], dict[str, Any]],
                                                                      danish: None) -> None:
    found = answers()
    assert found["no caller"]["detail"].startswith("serveren svarer kun på sin unix-socket")
    assert (found["no caller"]["type"], found["no caller"]["title"], found["no caller"]["exit_code"]) == (
        "urn:indsats:problem:not-allowed", "Not allowed", 4)
    assert found["no use case"]["detail"] == "ingen sådan funktion: POST /v1/nothing-here"
    assert (found["no use case"]["type"], found["no use case"]["status"]) == ("urn:indsats:problem:invalid", 400)
    assert found["no token"]["detail"].startswith("send Authorization: Bearer <token fra kommunens")
    assert (found["no token"]["title"], found["no token"]["exit_code"]) == ("Unauthorized", 4)


def test_in_english_the_problem_details_are_english(answers: Callable[[], dict[str, Any]]) -> None:
    found = answers()
    assert found["no caller"]["detail"].startswith("the server answers only on its unix socket")
    assert found["no use case"]["detail"] == "no such use case: POST /v1/nothing-here"
    assert found["no token"]["detail"].startswith("send Authorization: Bearer <token from the municipality's")


@pytest.mark.parametrize(("language", "said"), [("da", "Fejl: kan ikke nå serveren på unix:"),
                                               ("en", "Error: cannot reach the server at unix:")])
def test_the_thin_client_says_it_cannot_reach_the_server_in_the_language(
    invoke: Callable[..., Result], tmp_path: Path, language: str, said: str
) -> None:
    result = invoke(["tasks"], user=None, INDSATS_SERVER=f"unix:{tmp_path / 'nobody.sock'}", INDSATS_LANGUAGE=language)
    assert result.exit_code == 7 and result.stderr.startswith(said), result.stderr
