"""The use cases behind the web view: a case page and a stuck-list export are reads the access log records,
with the door they came through, and need-to-know holds exactly as for ``show``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from indsats.engine.cases.views import case_page, show_case
from indsats.engine.log.events import EventKind
from indsats.engine.privacy.access_log import audit_case
from indsats.engine.supervision import export_stuck, stuck_cases
from indsats.errors import NotFound

if TYPE_CHECKING:
    from collections.abc import Callable

    from indsats.engine.context import Context
    from indsats.engine.time.clock import FixedClock


def viewed(ctx: Context, case_id: str) -> list[Any]:
    return [e for e in audit_case(ctx, actor="sup", case_id=case_id) if e.action.startswith("viewed")]


def test_a_case_page_is_one_viewed_event_via_web_with_the_history(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in("specialist_notified")
    view, events = case_page(ctx, actor="sup", case_id=case_id, via="web")
    assert view.state == "specialist_notified"
    assert [e.kind for e in events][:2] == [EventKind.opened, EventKind.advanced]
    [entry] = viewed(ctx, case_id)
    assert (entry.login, entry.via, entry.action) == ("sup", "web", "viewed (page, web)")


def test_a_show_from_the_cli_records_no_door(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in()
    show_case(ctx, actor="sup", case_id=case_id)
    [entry] = viewed(ctx, case_id)
    assert (entry.via, entry.action) == (None, "viewed (show)")


def test_a_case_page_of_an_invisible_case_is_not_found_and_logs_nothing(
    ctx: Context, case_in: Callable[..., str]
) -> None:
    case_id = case_in()
    with pytest.raises(NotFound):
        case_page(ctx, actor="ida", case_id=case_id, via="web")
    assert viewed(ctx, case_id) == []


def test_an_export_of_the_stuck_list_logs_a_view_of_every_case_in_it(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    late, later = case_in(), case_in("leader_notified")
    clock.advance(days=10)
    exported = export_stuck(ctx, actor="sup", via="web")
    assert {s.case_id for s in exported} == {late, later}
    assert exported == stuck_cases(ctx, actor="sup")
    for case_id in (late, later):
        assert [(e.login, e.action) for e in viewed(ctx, case_id)] == [("sup", "viewed (stuck-export, web)")]


def test_an_export_lists_and_logs_only_what_the_leader_may_see(
    ctx: Context, clock: FixedClock, case_in: Callable[..., str]
) -> None:
    emils = case_in()
    clock.advance(days=10)
    assert export_stuck(ctx, actor="leo", via="web") == []
    assert viewed(ctx, emils) == []
