"""Need to know, the access log, encryption at rest, keys, retention and the citizen's right of access."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import PLAN, walk
from indsats.engine.privacy.access_log import access_review, audit_case, audit_user
from indsats.engine.cases.service import add_note, advance, open_case
from indsats.engine.privacy.crypto import Keyring, new_key
from indsats.engine.log.events import EventKind
from indsats.engine.privacy.keys import rotate_keys
from indsats.engine.privacy.retention import archive_export, purge
from indsats.engine.privacy.subjects import export_subject
from indsats.engine.supervision import step_report, stuck_cases
from indsats.engine.reminders.sweep import sweep
from indsats.engine.org.handover import deactivate_user
from indsats.engine.log.verify import verify
from indsats.engine.cases.views import case_history, list_cases, show_case
from indsats.errors import Invalid, NotAllowed, NotFound

from conftest import TEST_KEY
from fakes import MemoryKeyStore, RecordingNotifier

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.time.clock import FixedClock
    from indsats.engine.context import Context

SECRET_REF = "0101904321"
SECRET_NOTE = "Naboen fortalte om trusler mod skolen"


def without_key(ctx: Context) -> Context:
    return dataclasses.replace(ctx, keys=Keyring.none())


def with_key(ctx: Context, key: bytes) -> Context:
    return dataclasses.replace(ctx, keys=Keyring.fixed(key))


def stored_rows(ctx: Context) -> str:
    """Everything in cases and events as stored, as one string."""
    with ctx.db.unit_of_work() as uow:
        rows = [*(dataclasses.asdict(c) for c in uow.repo.list_cases(is_open=None)), *uow.repo.iter_events()]
    return json.dumps(rows, default=str, ensure_ascii=False)


@pytest.fixture
def secret_case(ctx: Context, org: Any) -> str:
    case_id = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=SECRET_REF, note=SECRET_NOTE,
                        source="neighbour", reporter="Nabo i opgang B").case_id
    add_note(ctx, actor="emil", case_id=case_id, text=SECRET_NOTE + " (igen)")
    walk(ctx, case_id, "assessed")
    return case_id


# -- need to know -------------------------------------------------------------------------------------


def test_an_outsider_gets_not_found_for_a_case_that_exists(ctx: Context, secret_case: str) -> None:
    for call in (show_case, case_history):
        with pytest.raises(NotFound):
            call(ctx, actor="ida", case_id=secret_case)
    assert [c.id for c in list_cases(ctx, actor="ida", is_open=None)] == []
    assert [c.id for c in list_cases(ctx, actor="sup", is_open=None)] == [secret_case]


def test_reading_a_case_does_not_put_the_reader_on_it(ctx: Context, secret_case: str) -> None:
    show_case(ctx, actor="sup", case_id=secret_case)
    assert show_case(ctx, actor="sup", case_id=secret_case).possible == []


def test_a_deactivated_user_can_do_nothing(ctx: Context, secret_case: str) -> None:
    deactivate_user(ctx, actor="admin", login="lea", handover_to="leo")
    with pytest.raises(NotAllowed):
        show_case(ctx, actor="lea", case_id=secret_case)
    with pytest.raises(NotAllowed):
        advance(ctx, actor="lea", case_id=secret_case, trigger="decide",
                values={"police_report": "no", "rationale": "r"})


def test_only_an_admin_manages_users(ctx: Context, org: Any) -> None:
    from indsats.engine.org.users import add_user

    with pytest.raises(NotAllowed):
        add_user(ctx, actor="sup", login="new", name="New", role="medarbejder")
    with pytest.raises(NotAllowed):
        deactivate_user(ctx, actor="lea", login="emil")


# -- the access log -----------------------------------------------------------------------------------


def test_every_show_and_history_adds_a_viewed_event_that_audit_lists(
    ctx: Context, clock: FixedClock, secret_case: str
) -> None:
    clock.advance(minutes=5)
    show_case(ctx, actor="lea", case_id=secret_case)
    clock.advance(minutes=5)
    show_case(ctx, actor="sup", case_id=secret_case)
    case_history(ctx, actor="fie", case_id=secret_case)
    views = [(e.login, e.action) for e in audit_case(ctx, actor="sup", case_id=secret_case) if e.action.startswith("viewed")]
    assert views == [("lea", "viewed (show)"), ("sup", "viewed (show)"), ("fie", "viewed (history)")]
    changes = [e.action for e in audit_case(ctx, actor="admin", case_id=secret_case) if not e.action.startswith("viewed")]
    assert changes[:2] == ["opened", "note"] and "advanced assess" in changes
    assert [(e.case_id, e.action) for e in audit_user(ctx, actor="admin", login="lea")] == [(secret_case, "viewed (show)")]
    assert verify(ctx).ok


def test_only_admin_and_supervisor_read_the_access_log(ctx: Context, secret_case: str) -> None:
    for who in ("lea", "fie", "emil"):
        with pytest.raises(NotAllowed):
            audit_case(ctx, actor=who, case_id=secret_case)
        with pytest.raises(NotAllowed):
            audit_user(ctx, actor=who, login="lea")
        with pytest.raises(NotAllowed):
            access_review(ctx, actor=who)


def test_the_grants_review_says_who_can_see_each_open_case_and_why(ctx: Context, secret_case: str) -> None:
    grants = {g.login: g.reason for g in access_review(ctx, actor="sup") if g.case_id == secret_case}
    assert "opened it" in grants["emil"]
    assert "must act now" in grants["lea"]  # assessed: the opener's leader decides
    assert "leader above" in grants["sol"]
    assert grants["sup"] == "role supervisor" and "role fagspecialist" in grants["fie"]
    assert "ida" not in grants and "leo" not in grants


# -- encryption at rest --------------------------------------------------------------------------------


def test_the_database_holds_no_plaintext_subject_reference_note_or_sensitive_field(
    ctx: Context, database: Any, secret_case: str
) -> None:
    text = stored_rows(ctx)
    for secret in (SECRET_REF, SECRET_NOTE, "Nabo i opgang B", "Samtale med borgeren"):
        assert secret not in text
    if database.path is not None:  # the raw SQLite file, with its write-ahead log
        raw = b"".join(p.read_bytes() for p in database.path.parent.glob(database.path.name + "*"))
        assert SECRET_REF.encode() not in raw and SECRET_NOTE.encode() not in raw
    view = show_case(ctx, actor="emil", case_id=secret_case)
    assert view.subject_ref == SECRET_REF
    opened = case_history(ctx, actor="emil", case_id=secret_case)[0]
    assert opened.payload["note"] == SECRET_NOTE and opened.payload["reporter"] == "Nabo i opgang B"


def test_a_new_sqlite_file_is_readable_by_its_owner_only(ctx: Context, database: Any, org: Any) -> None:
    if database.path is None:
        pytest.skip("PostgreSQL has no database file")
    assert stat.S_IMODE(database.path.stat().st_mode) == 0o600


def test_without_the_key_reading_fails_with_exit_4_and_supervision_and_reminders_still_work(
    ctx: Context, clock: FixedClock, secret_case: str
) -> None:
    before = stored_rows(ctx)
    blind = without_key(ctx)
    for call in (
        lambda: show_case(blind, actor="emil", case_id=secret_case),
        lambda: case_history(blind, actor="emil", case_id=secret_case),
        lambda: add_note(blind, actor="emil", case_id=secret_case, text="x"),
        lambda: open_case(blind, actor="emil", plan_id=PLAN, subject_ref="R"),
        lambda: advance(blind, actor="lea", case_id=secret_case, trigger="decide",
                        values={"police_report": "no", "rationale": "sensitive"}),
    ):
        with pytest.raises(NotAllowed) as caught:
            call()
        assert caught.value.exit_code == 4
    assert stored_rows(ctx) == before
    clock.advance(days=10)
    assert stuck_cases(blind, actor="sup")
    assert step_report(blind, actor="sup").plans
    assert sweep(blind, RecordingNotifier(), worker="w").sent > 0
    assert verify(blind).ok


def test_a_wrong_key_gives_exit_4_and_leaves_the_data_intact(ctx: Context, secret_case: str) -> None:
    before = stored_rows(ctx)
    wrong = with_key(ctx, new_key())
    with pytest.raises(NotAllowed) as caught:
        show_case(wrong, actor="emil", case_id=secret_case)
    assert caught.value.exit_code == 4 and "wrong key" in caught.value.message
    with pytest.raises(NotAllowed, match="sealed under key"):
        rotate_keys(wrong, actor="admin", store=MemoryKeyStore(new_key()))
    assert stored_rows(ctx) == before
    assert show_case(ctx, actor="emil", case_id=secret_case).subject_ref == SECRET_REF


def test_rotation_keeps_every_case_readable_under_the_new_key_and_none_under_the_old(
    ctx: Context, secret_case: str
) -> None:
    other = open_case(ctx, actor="ida", plan_id=PLAN, subject_ref="ANDEN-REF", note="n").case_id
    store = MemoryKeyStore(TEST_KEY)
    done = rotate_keys(ctx, actor="admin", store=store)
    assert done.cases == 2 and done.events >= 4
    assert store.retired == [TEST_KEY] and store.key is not None and store.next is None
    rotated = with_key(ctx, store.key)
    assert show_case(rotated, actor="emil", case_id=secret_case).subject_ref == SECRET_REF
    assert show_case(rotated, actor="ida", case_id=other).subject_ref == "ANDEN-REF"
    assert case_history(rotated, actor="emil", case_id=secret_case)[0].payload["note"] == SECRET_NOTE
    for case_id, who in ((secret_case, "emil"), (other, "ida")):
        with pytest.raises(NotAllowed):
            show_case(ctx, actor=who, case_id=case_id)  # ctx still holds the old key
    assert verify(rotated).ok


def test_data_sealed_with_fernet_before_still_opens_and_rotation_reseals_it_with_gcm(
    ctx: Context, secret_case: str
) -> None:
    """Tokens written before sealing moved to AES-GCM (Fernet, under the same key) open as before."""
    from cryptography.fernet import Fernet
    from sqlalchemy import text

    assert "a1:" in stored_rows(ctx) and "gAAAA" not in stored_rows(ctx)  # sealed with GCM now
    fernet = Fernet(TEST_KEY)
    with ctx.db.engine.begin() as conn:  # as an older version stored them
        conn.execute(text("UPDATE cases SET subject_ref = :r WHERE id = :c"),
                     {"r": fernet.encrypt(SECRET_REF.encode()).decode(), "c": secret_case})
        for event_id, payload in conn.execute(text("SELECT id, payload FROM events WHERE case_id = :c"),
                                              {"c": secret_case}).all():
            stored = json.loads(payload) if payload else {}
            if "sealed" in stored:
                secret = ctx.keys.cipher().open(stored["sealed"])
                stored["sealed"] = fernet.encrypt(secret.encode()).decode()
                conn.execute(text("UPDATE events SET payload = :p WHERE id = :i"),
                             {"p": json.dumps(stored), "i": event_id})
    assert "gAAAA" in stored_rows(ctx) and "a1:" not in stored_rows(ctx)
    assert show_case(ctx, actor="emil", case_id=secret_case).subject_ref == SECRET_REF
    assert case_history(ctx, actor="emil", case_id=secret_case)[0].payload["note"] == SECRET_NOTE
    assert verify(ctx).ok
    with pytest.raises(NotAllowed, match="wrong key"):
        show_case(with_key(ctx, new_key()), actor="emil", case_id=secret_case)

    store = MemoryKeyStore(TEST_KEY)
    rotate_keys(ctx, actor="admin", store=store)
    assert store.key is not None
    rotated = with_key(ctx, store.key)
    assert "gAAAA" not in stored_rows(ctx) and "a1:" in stored_rows(ctx)
    assert show_case(rotated, actor="emil", case_id=secret_case).subject_ref == SECRET_REF
    assert case_history(rotated, actor="emil", case_id=secret_case)[0].payload["note"] == SECRET_NOTE
    assert verify(rotated).ok


def test_only_an_admin_rotates_keys(ctx: Context, secret_case: str) -> None:
    with pytest.raises(NotAllowed):
        rotate_keys(ctx, actor="sup", store=MemoryKeyStore(TEST_KEY))


# -- retention ----------------------------------------------------------------------------------------


def test_purge_refuses_unarchived_cases_then_removes_personal_data_of_old_closed_cases_only(
    ctx: Context, clock: FixedClock, secret_case: str, tmp_path: Path
) -> None:
    walk_rest = advance(ctx, actor="lea", case_id=secret_case, trigger="decide",
                        values={"police_report": "no", "rationale": "Ingen strafbare forhold"})
    assert not walk_rest.is_open
    recent = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="NYERE-REF").case_id
    clock.advance(days=5 * 365 + 2)
    walk(ctx, recent, "decided")  # closed now: its five years have not run
    still_open = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="AABEN-REF").case_id

    assert purge(ctx, actor="admin", dry_run=True).refused == [secret_case]
    with pytest.raises(Invalid, match="not archived"):
        purge(ctx, actor="admin")
    with pytest.raises(NotAllowed):
        archive_export(ctx, actor="sup", path=tmp_path / "a.json")

    archived = archive_export(ctx, actor="admin", path=tmp_path / "archive.json")
    assert archived.cases == [secret_case]
    data = json.loads((tmp_path / "archive.json").read_text(encoding="utf-8"))
    assert data["format"] == "indsats-archive/1" and data["plans"]
    assert data["cases"][0]["subject_ref"] == SECRET_REF
    assert data["cases"][0]["events"][0]["payload"]["note"] == SECRET_NOTE
    assert stat.S_IMODE((tmp_path / "archive.json").stat().st_mode) == 0o600

    purged = purge(ctx, actor="admin")
    assert purged.cases == [secret_case]
    with ctx.db.unit_of_work() as uow:
        gone = uow.repo.get_case(secret_case)
        kept = uow.repo.get_case(recent)
        events = uow.repo.events_for(secret_case)
    assert gone.subject_ref is None and gone.purged_at is not None and gone.state == "decided"
    assert all(e["payload"] is None for e in events) and events[-1]["kind"] == EventKind.purged.value
    assert kept.subject_ref is not None and kept.purged_at is None
    assert show_case(ctx, actor="emil", case_id=still_open).subject_ref == "AABEN-REF"
    assert verify(ctx).ok
    report = step_report(ctx, actor="sup")
    passed = {s.state: s.passed for p in report.plans for s in p.states}
    assert passed["assessed"] >= 2  # the purged case still counts
    assert purge(ctx, actor="admin").cases == []


# -- the citizen's right of access ---------------------------------------------------------------------


def test_subject_export_holds_that_subjects_cases_and_access_entries_and_no_other(
    ctx: Context, clock: FixedClock, secret_case: str, tmp_path: Path
) -> None:
    open_case(ctx, actor="ida", plan_id=PLAN, subject_ref="ANDEN-REF", note="en anden borger")
    second = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=SECRET_REF).case_id
    clock.advance(minutes=1)
    show_case(ctx, actor="lea", case_id=secret_case)
    with pytest.raises(NotAllowed):
        export_subject(ctx, actor="sup", subject_ref=SECRET_REF, path=tmp_path / "x.json")

    result = export_subject(ctx, actor="admin", subject_ref=SECRET_REF, path=tmp_path / "subject.json")
    assert result.cases == sorted([secret_case, second])
    text = (tmp_path / "subject.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert "ANDEN-REF" not in text and "en anden borger" not in text
    first = next(c for c in data["cases"] if c["case_id"] == secret_case)
    assert first["subject_ref"] == SECRET_REF
    assert any(e["details"] and e["details"].get("note") == SECRET_NOTE for e in first["events"])
    assert first["access_log"] == [
        {"at": first["access_log"][0]["at"], "by": "leder", "what": "indsats show", "purpose": first["access_log"][0]["purpose"]}
    ]
    assert "Lea" not in text  # no employee names unless asked
    named = export_subject(ctx, actor="admin", subject_ref=SECRET_REF, path=tmp_path / "named.json", with_names=True)
    assert named.cases and "Lea (leder)" in (tmp_path / "named.json").read_text(encoding="utf-8")


# -- the command line ----------------------------------------------------------------------------------


def add_employee_with_leader_and_specialist(invoke: Callable[..., Result]) -> None:
    """emil, his leader lea and the specialist fie: the least a radicalisation case needs to open."""
    invoke(["users", "add", "lea", "--name", "Lea", "--role", "leder"])
    invoke(["users", "add", "fie", "--name", "Fie", "--role", "fagspecialist"])
    invoke(["users", "add", "emil", "--name", "Emil", "--role", "medarbejder", "--reports-to", "lea"])


def test_init_makes_a_private_key_file_and_a_key_readable_by_others_is_refused(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    result = invoke(["init"])
    assert result.exit_code == 0, result.output
    key = tmp_path / "data" / "indsats.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    add_employee_with_leader_and_specialist(invoke)
    opened = invoke(["open", PLAN, "--subject", SECRET_REF], user="emil")
    assert opened.exit_code == 0, opened.output
    case_id = opened.stdout.strip().splitlines()[-1]
    os.chmod(key, 0o644)
    refused = invoke(["show", case_id], user="emil")
    assert refused.exit_code == 4 and "readable by others" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert invoke(["stuck"]).exit_code == 0  # supervision never needs the key
    os.chmod(key, 0o600)
    assert invoke(["show", case_id], user="emil").exit_code == 0


def test_keys_rotate_replaces_the_key_file_and_keeps_everything_readable(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    invoke(["init"])
    add_employee_with_leader_and_specialist(invoke)
    case_id = invoke(["open", PLAN, "--subject", SECRET_REF, "--note", SECRET_NOTE], user="emil").stdout.split()[-1]
    key = tmp_path / "data" / "indsats.key"
    old = key.read_bytes()
    rotated = invoke(["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert key.read_bytes() != old and (tmp_path / "data" / "indsats.key.old").read_bytes() == old
    shown = json.loads(invoke(["show", case_id, "--json"], user="emil").stdout)
    assert shown["subject_ref"] == SECRET_REF
    assert invoke(["verify"]).exit_code == 0
    assert invoke(["show", case_id], user="emil", INDSATS_KEY=old.decode().strip()).exit_code == 4


def test_audit_and_purge_and_subject_export_from_the_command_line(invoke: Callable[..., Result], tmp_path: Path) -> None:
    invoke(["init"])
    add_employee_with_leader_and_specialist(invoke)
    case_id = invoke(["open", PLAN, "--subject", SECRET_REF], user="emil").stdout.split()[-1]
    invoke(["show", case_id], user="emil")
    audit = json.loads(invoke(["audit", case_id, "--json"]).stdout)
    assert [e["action"] for e in audit] == ["opened", "viewed (show)"]
    assert invoke(["audit", case_id], user="emil").exit_code == 4
    assert invoke(["audit"]).exit_code == 2
    assert "Would purge 0" in invoke(["purge", "--dry-run"]).stdout
    exported = invoke(["subject", "export", SECRET_REF, str(tmp_path / "s.json")])
    assert exported.exit_code == 0 and case_id in (tmp_path / "s.json").read_text(encoding="utf-8")
    again = invoke(["subject", "export", SECRET_REF, str(tmp_path / "s.json")])
    assert again.exit_code == 5  # never overwrites
    review = json.loads(invoke(["access", "review", "--json"]).stdout)
    assert {(g["login"], g["case_id"]) for g in review} >= {("emil", case_id), ("admin", case_id)}


def test_subject_export_and_archive_export_write_an_access_event_on_every_exported_case(
    ctx: Context, clock: FixedClock, secret_case: str, tmp_path: Path
) -> None:
    other = open_case(ctx, actor="ida", plan_id=PLAN, subject_ref="ANDEN-REF").case_id
    second = open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=SECRET_REF).case_id
    export_subject(ctx, actor="admin", subject_ref=SECRET_REF, path=tmp_path / "subject.json")
    for case_id in (secret_case, second):
        assert [e.action for e in audit_case(ctx, actor="admin", case_id=case_id)][-1] == "viewed (subject export)"
    assert "viewed (subject export)" not in [e.action for e in audit_case(ctx, actor="admin", case_id=other)]
    advance(ctx, actor="lea", case_id=secret_case, trigger="decide",
            values={"police_report": "no", "rationale": "Ingen strafbare forhold"})
    clock.advance(days=5 * 365 + 2)
    archived = archive_export(ctx, actor="admin", path=tmp_path / "archive.json")
    assert archived.cases == [secret_case]
    viewed = [e for e in audit_case(ctx, actor="admin", case_id=secret_case) if e.action == "viewed (archive export)"]
    assert len(viewed) == 1 and viewed[0].login == "admin"
    assert verify(ctx).ok
