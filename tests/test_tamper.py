"""An attacker with write access to the database: each edit is made with plain SQL, and ``verify`` must
exit 8 and name the break. Run on SQLite and PostgreSQL.

The edits come after a seal, as a database administrator's would: the seal (signed with a key the
database never holds) is what a chain recomputed with the project's own hash function cannot match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from conftest import PLAN, TEST_KEY, TEST_SIGNING_KEY
from indsats.engine.cases.service import add_note, advance, open_case
from indsats.engine.log.events import Draft, EventKind, chain_hash, digest
from indsats.engine.log.seals import write_seal
from indsats.engine.log.verify import verify
from indsats.engine.org.users import add_user

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.context import Context

TABLES = ("users", "plans", "case_counters", "cases", "events", "reminders", "org_events", "seals", "seal_heads",
          "key_fingerprints")


@pytest.fixture
def sealed(ctx: Context, case_in: Callable[..., str]) -> dict[str, str]:
    """Four cases (one a minor's, one with a note, one closed) and a seal over them all."""
    cases = {
        "assessed": case_in("assessed"),
        "minor": case_in("specialist_notified", minor=True),
        "noted": case_in("leader_notified"),
        "closed": case_in("decided"),
    }
    add_note(ctx, actor="emil", case_id=cases["noted"], text="Samtale aftalt")
    cases["newest"] = open_case(ctx, actor="ida", plan_id=PLAN, subject_ref="ANDEN-BORGER").case_id
    write_seal(ctx, actor="admin")
    assert verify(ctx).ok
    return cases


def sql(ctx: Context, *statements: str, **params: Any) -> None:
    """Run statements as a database administrator would: foreign keys and triggers off."""
    if ctx.db.is_sqlite:  # the sqlite3 module's own connection: foreign keys are off unless asked for
        import sqlite3

        raw = sqlite3.connect(str(ctx.db.path))
        with raw:
            for statement in statements:
                raw.execute(statement, {k: v.isoformat(" ") if hasattr(v, "isoformat") else v for k, v in params.items()})
        raw.close()
        return
    with ctx.db.connect() as conn:
        conn.exec_driver_sql("SET session_replication_role = replica")
        for statement in statements:
            conn.execute(text(statement), params)
        conn.commit()


@pytest.fixture
def verify_cli(invoke: Callable[..., Result], ctx: Context, tmp_path: Path) -> Callable[[], list[str]]:
    """``indsats verify --json`` on ``ctx``'s database with its keys; asserts exit 8, returns the problems."""
    signing = tmp_path / "signing.key"
    signing.write_bytes(TEST_SIGNING_KEY + b"\n")
    signing.chmod(0o600)
    assert ctx.seal_log is not None

    def run() -> list[str]:
        result = invoke(["verify", "--json"], db_url=ctx.db.url.render_as_string(hide_password=False),
                        INDSATS_KEY=TEST_KEY.decode(), INDSATS_SIGNING_KEY_FILE=str(signing),
                        INDSATS_SEAL_FILE=ctx.seal_log.describe())
        assert result.exit_code == 8, result.output
        assert "verify found" in result.stderr  # --json: the error is one JSON object on stderr
        problems: list[str] = json.loads(result.stdout)["problems"]
        return problems

    return run


def named(problems: list[str], *fragments: str) -> None:
    for fragment in fragments:
        assert any(fragment in p for p in problems), f"{fragment!r} not in {problems}"


def test_a_payload_edited_and_its_chain_recomputed_with_the_projects_own_hash_is_caught_by_the_seal(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    from indsats.engine.privacy.crypto import open_payload

    case_id = sealed["assessed"]
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work() as uow:
        forged = [dict(e) for e in uow.repo.events_for(case_id)]
    forged[0]["payload"]["source"] = "anonymous"  # a clear part of the opened event; the row is edited to match
    prev = forged[0]["prev_hash"]
    for e in forged:  # recompute every digest and hash, exactly as the project does (the attacker holds the key)
        e["prev_hash"] = prev
        if e["payload"] is not None:
            e["payload_digest"] = digest(open_payload(e["payload"], cipher))
        header = Draft(case_id=case_id, kind=EventKind(e["kind"]), at=e["at"], actor=e["actor"], trigger=e["trigger"],
                       from_state=e["from_state"], to_state=e["to_state"])
        e["hash"] = chain_hash(prev, e["seq"], header, e["payload_digest"])
        prev = e["hash"]
    for e in forged:
        sql(ctx, "UPDATE events SET payload = :p, payload_digest = :d, prev_hash = :ph, hash = :h "
                 "WHERE case_id = :c AND seq = :s",
            p=None if e["payload"] is None else json.dumps(e["payload"], sort_keys=True, separators=(",", ":"),
                                                           ensure_ascii=False),
            d=e["payload_digest"], ph=e["prev_hash"], h=e["hash"], c=case_id, s=e["seq"])
    sql(ctx, "UPDATE cases SET last_hash = :h, source = 'anonymous' WHERE id = :c", h=prev, c=case_id)
    problems = verify_cli()
    named(problems, f"case {case_id}: event {len(forged)} is not the one seal 1 covered (its history was rewritten after the seal)")
    assert all(case_id in p for p in problems)  # the chain itself is consistent: only the seal catches it


def test_the_newest_case_deleted_with_all_its_rows_is_caught(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    case_id = sealed["newest"]
    prefix, number = case_id.rsplit("-", 1)
    sql(ctx, *(f"DELETE FROM {t} WHERE case_id = :c" for t in ("reminders", "events", "seal_heads", "state_visits")),
        "DELETE FROM cases WHERE id = :c", c=case_id)
    sql(ctx, "UPDATE case_counters SET last_number = last_number - 1")
    problems = verify_cli()
    named(problems, f"case {case_id}: was opened but is missing (removed)", f"case counter {prefix}",
          "the sealed chain heads do not match its root")


@pytest.mark.parametrize("table", TABLES)
def test_an_emptied_table_is_caught(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]], table: str
) -> None:
    sql(ctx, f"DELETE FROM {table}")
    assert verify_cli()


def test_every_table_emptied_is_caught_by_the_seal_file(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    sql(ctx, *(f"DELETE FROM {t}" for t in TABLES))
    named(verify_cli(), "seal 1: in the seal file but not in the database (removed)")


def test_the_newest_seal_removed_or_edited_is_caught(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    write_seal(ctx, actor="admin")
    sql(ctx, "UPDATE seals SET body = REPLACE(body, :was, :now) WHERE seq = 1", was='"cases":5', now='"cases":4')
    named(verify_cli(), "seal 1: the signature does not verify", "seal 1: differs from the seal file (edited)")
    sql(ctx, "DELETE FROM seals WHERE seq = 2")
    named(verify_cli(), "seal 2: in the seal file but not in the database (removed)")


def test_a_seal_removed_from_the_middle_breaks_the_chain_of_seals(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    write_seal(ctx, actor="admin")
    write_seal(ctx, actor="admin")
    sql(ctx, "DELETE FROM seals WHERE seq = 2")
    named(verify_cli(), "seal 3: expected seal 2 (seal 2 was removed)")


def test_a_middle_event_deleted_is_caught(ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]) -> None:
    case_id = sealed["assessed"]
    sql(ctx, "DELETE FROM events WHERE case_id = :c AND seq = 2", c=case_id)
    named(verify_cli(), f"case {case_id} event 3: expected event 2")


def test_subject_ref_and_index_swapped_between_two_cases_are_caught(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    a, b = sealed["noted"], sealed["newest"]  # different citizens
    with ctx.db.unit_of_work() as uow:
        rows = {c: uow.repo.get_case(c) for c in (a, b)}
    for mine, theirs in ((a, b), (b, a)):
        sql(ctx, "UPDATE cases SET subject_ref = :r, subject_index = :i WHERE id = :c",
            r=rows[theirs].subject_ref, i=rows[theirs].subject_index, c=mine)  # type: ignore[union-attr]
    named(verify_cli(), f"case {a}: 'subject_ref' is not the subject", f"case {b}: 'subject_index' is not the index")


def test_minor_flipped_is_caught(ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]) -> None:
    sql(ctx, "UPDATE cases SET minor = :f WHERE id = :c", f=False, c=sealed["minor"])
    named(verify_cli(), f"case {sealed['minor']}: 'minor' is False but its events say True")


def test_a_deadline_moved_is_caught(ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]) -> None:
    with ctx.db.unit_of_work() as uow:
        deadline = uow.repo.get_case(sealed["assessed"]).deadline  # type: ignore[union-attr]
    sql(ctx, "UPDATE cases SET deadline = :d WHERE id = :c", d=deadline.replace(tzinfo=None, year=deadline.year + 1),
        c=sealed["assessed"])
    named(verify_cli(), f"case {sealed['assessed']}: 'deadline' is")


def test_a_users_role_changed_in_the_users_table_is_caught(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    sql(ctx, "UPDATE users SET role = 'admin' WHERE login = 'emil'")
    named(verify_cli(), "users emil: 'role' is 'admin' but the organisation chain says None")


def test_a_grant_changed_in_the_grants_table_is_caught(
    ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]
) -> None:
    sql(ctx, "UPDATE grants SET unit = 'Nord' WHERE login = 'emil'")
    named(verify_cli(), "grants emil/radikalisering/medarbejder: 'unit' is 'Nord' but the organisation chain says None")


def test_a_pending_reminder_cancelled_is_caught(ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]) -> None:
    case_id = sealed["assessed"]
    sql(ctx, "UPDATE reminders SET status = 'cancelled' WHERE case_id = :c AND status = 'pending'", c=case_id)
    named(verify_cli(), f"case {case_id}: the reminder at level 0 was cancelled while the case is still in 'assessed'")


def test_a_reminder_deleted_or_moved_is_caught(ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]) -> None:
    case_id = sealed["noted"]
    sql(ctx, "DELETE FROM reminders WHERE case_id = :c AND status = 'pending' AND level = 0", c=case_id)
    named(verify_cli(), f"case {case_id}: the reminder at level 0 due")


def test_a_user_inserted_by_hand_is_caught(ctx: Context, sealed: dict[str, str], verify_cli: Callable[[], list[str]]) -> None:
    sql(ctx, "INSERT INTO users (login, name, role, active, created_at) VALUES ('mallory', 'M', 'admin', :t, :at)",
        t=True, at=ctx.clock.now().replace(tzinfo=None))
    named(verify_cli(), "users mallory: not in the organisation chain (inserted by hand)")


# -- what verify says when all is well ----------------------------------------------------------------


def test_verify_says_how_much_is_not_yet_sealed(ctx: Context, sealed: dict[str, str]) -> None:
    advance(ctx, actor="emil", case_id=sealed["newest"], trigger="notify_leader") if False else None
    add_note(ctx, actor="emil", case_id=sealed["noted"], text="Endnu en")
    add_user(ctx, actor="admin", login="nyt", name="Ny", role="medarbejder")
    report = verify(ctx)
    assert report.ok and report.seal == 1
    assert (report.unsealed_events, report.unsealed_cases, report.unsealed_org_events) == (1, 1, 2)  # user + grant
    write_seal(ctx, actor=None)
    after = verify(ctx)
    assert (after.seal, after.unsealed_events, after.unsealed_org_events) == (2, 0, 0)


def test_without_the_key_verify_counts_what_it_could_not_check_and_never_says_a_bare_ok(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    assert invoke(["init"]).exit_code == 0
    invoke(["users", "add", "lea", "--name", "Lea", "--role", "leder"])
    invoke(["users", "add", "fie", "--name", "Fie", "--role", "fagspecialist"])
    invoke(["users", "add", "emil", "--name", "Emil", "--role", "medarbejder", "--reports-to", "lea"])
    invoke(["open", PLAN, "--subject", "REF-1", "--note", "Hemmelig"], user="emil")
    blind = {"INDSATS_KEY_FILE": str(tmp_path / "no.key")}
    report = json.loads(invoke(["verify", "--json"], **blind).stdout)
    assert report["ok"] and not report["complete"]
    assert report["unchecked_payloads"] == 1 and report["unchecked_subject_refs"] == 1
    said = invoke(["verify"], **blind).stdout
    assert "OK as far as checked" in said and "1 encrypted payload(s)" in said
    assert ": OK\n" in invoke(["verify"]).stdout.replace("organisation events: OK", ": OK")


# -- keys ---------------------------------------------------------------------------------------------


def test_a_wrong_key_refuses_a_note_before_writing(invoke: Callable[..., Result], tmp_path: Path) -> None:
    from indsats.engine.privacy.crypto import key_fingerprint, new_key

    assert invoke(["init"]).exit_code == 0
    invoke(["users", "add", "lea", "--name", "Lea", "--role", "leder"])
    invoke(["users", "add", "fie", "--name", "Fie", "--role", "fagspecialist"])
    invoke(["users", "add", "emil", "--name", "Emil", "--role", "medarbejder", "--reports-to", "lea"])
    case_id = invoke(["open", PLAN, "--subject", "REF-1"], user="emil").stdout.split()[-1]
    right = (tmp_path / "data" / "indsats.key").read_bytes().strip()
    before = invoke(["history", case_id, "--json"], user="emil").stdout.count('"seq"')
    refused = invoke(["note", case_id, "Noget"], user="emil", INDSATS_KEY=new_key().decode())
    assert refused.exit_code == 4
    assert f"this database is sealed under key {key_fingerprint(right)}" in refused.stderr
    assert invoke(["history", case_id, "--json"], user="emil").stdout.count('"seq"') == before + 1  # the history read
    assert invoke(["verify"]).exit_code == 0


def test_init_from_a_second_data_directory_makes_no_new_key_for_an_existing_database(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    assert invoke(["init"]).exit_code == 0
    invoke(["users", "add", "lea", "--name", "Lea", "--role", "leder"])
    invoke(["users", "add", "fie", "--name", "Fie", "--role", "fagspecialist"])
    invoke(["users", "add", "emil", "--name", "Emil", "--role", "medarbejder", "--reports-to", "lea"])
    invoke(["open", PLAN, "--subject", "REF-1"], user="emil")
    elsewhere = {"INDSATS_DATA_DIR": str(tmp_path / "other")}
    again = invoke(["init"], **elsewhere)
    assert again.exit_code == 4 and "this database is sealed under key" in again.stderr
    assert not (tmp_path / "other" / "indsats.key").exists()
