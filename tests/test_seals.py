"""Seals: signed checkpoints of every case's chain head and the organisation chain, stored in the
database and appended to the seal file; ``indsats seal`` writes one, ``--show`` prints the latest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import PLAN
from indsats.adapters.seal_file import SealFile
from indsats.engine.cases.service import add_note, open_case
from indsats.engine.log.seals import latest_seal, merkle_root, write_seal
from indsats.engine.log.signing import SealKeys, SealVerifier, new_signing_key
from indsats.errors import NotAllowed

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.testing import Result

    from indsats.engine.context import Context


def test_a_seal_covers_every_case_and_the_organisation_and_is_signed(ctx: Context, case_in: Callable[..., str]) -> None:
    first, second = case_in("assessed"), case_in()
    seal = write_seal(ctx, actor="admin")
    content = seal.content
    assert (seal.seq, content["cases"], content["counters"]) == (1, 2, {"RAD-2026": 2})
    with ctx.db.unit_of_work() as uow:
        heads = {c.id: c.last_seq for c in uow.repo.list_cases(is_open=None)}
        org_seq, org_hash = uow.repo.org_chain_head()
    assert content["events"] == heads[first] + heads[second]
    assert content["org"] == {"seq": org_seq, "hash": org_hash} and org_seq == 14  # init's admin, seven users, six grants
    verifier = ctx.signing.verifier()
    assert verifier is not None and verifier.verify(seal.body.encode(), seal.signature)
    assert not verifier.verify(seal.body.replace('"cases":2', '"cases":1').encode(), seal.signature)


def test_each_seal_names_the_one_before_and_only_new_heads_change(ctx: Context, case_in: Callable[..., str]) -> None:
    case_id = case_in()
    one = write_seal(ctx, actor="admin")
    add_note(ctx, actor="emil", case_id=case_id, text="Opfølgning")
    two = write_seal(ctx, actor=None)  # the worker's nightly seal: the system acting
    assert two.content["prev"] == one.digest
    assert two.content["events"] == one.content["events"] + 1
    assert two.content["root"] != one.content["root"]
    three = write_seal(ctx, actor="admin")
    assert three.content["root"] == two.content["root"] and three.seq == 3


def test_seals_are_appended_to_the_seal_file_and_to_a_copy(ctx: Context, case_in: Callable[..., str], tmp_path: Path) -> None:
    case_in()
    copy = SealFile(tmp_path / "elsewhere" / "copy.jsonl")
    written = [write_seal(ctx, actor="admin", to=copy), write_seal(ctx, actor="admin")]
    assert ctx.seal_log is not None
    in_file = ctx.seal_log.read()
    assert [r["body"] for r in in_file] == [s.body for s in written]
    assert [r["body"] for r in copy.read()] == [written[0].body]
    assert SealVerifier(in_file[0]["public_key"]).verify(in_file[0]["body"].encode(), in_file[0]["signature"])


def test_only_an_admin_or_the_system_seals(ctx: Context, case_in: Callable[..., str]) -> None:
    case_in()
    with pytest.raises(NotAllowed, match="only an admin"):
        write_seal(ctx, actor="emil")
    with pytest.raises(NotAllowed, match="no signing key"):
        write_seal(dataclasses.replace(ctx, signing=SealKeys.none()), actor="admin")
    assert latest_seal(ctx, actor="sup") is None


def test_latest_seal_is_the_newest(ctx: Context, case_in: Callable[..., str]) -> None:
    case_in()
    write_seal(ctx, actor="admin")
    newest = write_seal(ctx, actor="admin")
    found = latest_seal(ctx, actor="admin")
    assert found is not None and found.body == newest.body
    with pytest.raises(NotAllowed):
        latest_seal(ctx, actor="emil")


def test_the_merkle_root_depends_on_every_leaf_and_their_order() -> None:
    leaves = [bytes([i]) * 32 for i in range(7)]
    root, n = merkle_root(leaves)
    assert n == 7
    assert merkle_root(reversed(leaves))[0] != root
    assert merkle_root(leaves[:6])[0] != root
    assert merkle_root(leaves[:6] + [b"\xff" * 32])[0] != root
    assert merkle_root([])[1] == 0


def test_a_seal_over_edited_sealed_heads_is_refused(ctx: Context, case_in: Callable[..., str]) -> None:
    from sqlalchemy import text

    from indsats.errors import IntegrityBroken

    case_id = case_in()
    write_seal(ctx, actor="admin")
    with ctx.db.connect() as conn:
        conn.execute(text("UPDATE seal_heads SET hash = :h WHERE case_id = :c"), {"h": "f" * 64, "c": case_id})
        conn.commit()
    with pytest.raises(IntegrityBroken, match="no longer match seal 1"):
        write_seal(ctx, actor="admin")


# -- the command line ------------------------------------------------------------------------------


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    return result


def test_init_makes_the_signing_key_beside_the_key_and_seal_writes_and_shows(invoke: Callable[..., Result], tmp_path: Path) -> None:
    made = ok(invoke(["init"])).stdout
    data = tmp_path / "data"
    assert "seal signing key" in made
    assert (data / "indsats-signing.key").stat().st_mode & 0o077 == 0
    ok(invoke(["users", "add", "lea", "--name", "Lea", "--role", "leder"]))
    ok(invoke(["users", "add", "fie", "--name", "Fie", "--role", "fagspecialist"]))
    ok(invoke(["users", "add", "emil", "--name", "Emil", "--role", "medarbejder", "--reports-to", "lea"]))
    ok(invoke(["open", PLAN, "--subject", "REF-1"], user="emil"))
    sealed = ok(invoke(["seal", "--to", str(tmp_path / "copy.jsonl")])).stdout
    assert sealed.startswith("Sealed 1 at ") and "1 case(s)" in sealed
    shown: dict[str, Any] = json.loads(ok(invoke(["seal", "--show", "--json"])).stdout)
    assert (shown["seq"], shown["cases"], shown["events"]) == (1, 1, 1)
    assert len((data / "seals.jsonl").read_text().splitlines()) == 1
    assert len((tmp_path / "copy.jsonl").read_text().splitlines()) == 1
    assert "Made" not in ok(invoke(["init"])).stdout  # a second init makes no new key


def test_a_signing_key_readable_by_others_is_refused(invoke: Callable[..., Result], tmp_path: Path) -> None:
    ok(invoke(["init"]))
    key = tmp_path / "data" / "indsats-signing.key"
    key.chmod(0o644)
    result = invoke(["seal"])
    assert result.exit_code == 4 and "readable by others" in result.stderr


def test_seal_without_a_signing_key_exits_4(invoke: Callable[..., Result], tmp_path: Path) -> None:
    ok(invoke(["init"]))
    result = invoke(["seal"], INDSATS_SIGNING_KEY_FILE=str(tmp_path / "none.key"))
    assert result.exit_code == 4 and "no signing key" in result.stderr


def test_a_fresh_signing_key_differs_each_time() -> None:
    assert new_signing_key() != new_signing_key()


def test_an_open_case_on_a_fresh_ctx_is_unsealed_until_the_next_seal(ctx: Context, org: Any) -> None:
    open_case(ctx, actor="emil", plan_id=PLAN, subject_ref="REF-9")
    assert write_seal(ctx, actor=None).content["cases"] == 1


def test_a_later_seal_puts_changed_and_new_heads_in_their_place(ctx: Context, case_in: Callable[..., str]) -> None:
    from indsats.engine.log.verify import verify

    ids = [case_in() for _ in range(5)]
    write_seal(ctx, actor="admin")
    for case_id in (ids[0], ids[3]):
        add_note(ctx, actor="emil", case_id=case_id, text="Mere")
    case_in("leader_notified")
    second = write_seal(ctx, actor=None)
    assert second.content["cases"] == 6 and second.content["events"] == 5 + 2 + 2
    report = verify(ctx)
    assert report.ok and report.seal == 2 and report.unsealed_events == 0


def test_verify_warns_when_the_seal_file_holds_fewer_seals_than_the_database(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    ok(invoke(["init"]))
    ok(invoke(["seal"]))
    assert "The seal file holds" not in ok(invoke(["verify"])).stdout
    (tmp_path / "data" / "seals.jsonl").unlink()
    said = ok(invoke(["verify"])).stdout
    assert "The seal file holds 0 of the 1 seal(s)" in said
    report = json.loads(ok(invoke(["verify", "--json"])).stdout)
    assert (report["seal"], report["seal_file_seals"], report["seals_in_database"]) == (1, 0, 1)
