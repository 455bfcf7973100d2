"""Key rotation cannot lose data: interrupted at any point (an exception at each step, or SIGKILL at 30
random moments on a database of 2,000 cases), a second ``keys rotate`` finishes it and every case reads
back under the key file alone."""

from __future__ import annotations

import dataclasses
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import PLAN, TEST_KEY, process_env
from fakes import MemoryKeyStore
from indsats.engine.cases.service import add_note, open_case
from indsats.engine.cases.views import show_case
from indsats.engine.log.verify import verify
from indsats.engine.privacy.crypto import Cipher, Keyring, key_fingerprint
from indsats.engine.privacy.keys import rotate_keys
from indsats.errors import Invalid, NotAllowed

if TYPE_CHECKING:
    from indsats.engine.context import Context


class Crash(Exception):
    """Stands in for the process dying at one step."""


class CrashingKeyStore(MemoryKeyStore):
    """A key store whose promote (the file swap) dies the first time."""

    def __init__(self, current: bytes | None) -> None:
        super().__init__(current)
        self.crash_on_promote = True

    def promote_pending(self) -> None:
        if self.crash_on_promote:
            self.crash_on_promote = False
            raise Crash("killed before the key files were swapped")
        super().promote_pending()


def keyed(ctx: Context, store: MemoryKeyStore) -> Context:
    """A context reading its keys as the installation does: the current key, and the pending one."""
    return dataclasses.replace(ctx, keys=Keyring(store.current, lambda: [k for k in (store.pending(),) if k]))


@pytest.fixture
def cases(ctx: Context, org: Any) -> list[str]:
    opened = [open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{i}", note=f"Note {i}").case_id
              for i in range(5)]
    add_note(ctx, actor="emil", case_id=opened[0], text="Mere")
    return opened


def test_a_crash_after_the_database_switched_keys_is_finished_by_the_next_rotate(ctx: Context, cases: list[str]) -> None:
    store = CrashingKeyStore(TEST_KEY)
    with pytest.raises(Crash):
        rotate_keys(ctx, actor="admin", store=store)
    new = store.pending()
    assert new is not None and store.current() == TEST_KEY
    # Meanwhile every command reads and writes under the key the database calls current (the pending one).
    assert show_case(keyed(ctx, store), actor="emil", case_id=cases[1]).subject_ref == "REF-1"
    add_note(keyed(ctx, store), actor="emil", case_id=cases[1], text="Under rotationen")
    done = rotate_keys(keyed(ctx, store), actor="admin", store=store)
    assert done.resumed and store.current() == new and store.pending() is None
    assert verify(keyed(ctx, store)).ok
    assert show_case(keyed(ctx, store), actor="emil", case_id=cases[1]).subject_ref == "REF-1"


def test_a_rotation_interrupted_midway_is_resumed_and_writers_meanwhile_are_not_lost(
    ctx: Context, cases: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import indsats.engine.privacy.keys as keys

    store = MemoryKeyStore(TEST_KEY)
    monkeypatch.setattr(keys, "PAGE", 2)
    calls = {"n": 0}
    real = keys._rotate_cases

    def dying(repo: Any, cipher: Cipher, ids: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash("killed in the second page")
        return real(repo, cipher, ids)

    monkeypatch.setattr(keys, "_rotate_cases", dying)
    with pytest.raises(Crash):
        rotate_keys(ctx, actor="admin", store=store)
    monkeypatch.setattr(keys, "_rotate_cases", real)
    with ctx.db.unit_of_work() as uow:
        fingerprints = uow.repo.key_fingerprints()
    assert fingerprints == {"current": key_fingerprint(TEST_KEY), "next": key_fingerprint(store.pending() or b"")}
    during = keyed(ctx, store)
    late = open_case(during, actor="emil", plan_id=PLAN, subject_ref="SENT-REF").case_id  # under the old key
    with pytest.raises(NotAllowed, match="does not hold that key"):  # the pending key file lost: nothing changes
        rotate_keys(during, actor="admin", store=MemoryKeyStore(TEST_KEY), resume=True)
    done = rotate_keys(during, actor="admin", store=store, resume=True)
    assert done.resumed and store.pending() is None
    after = dataclasses.replace(ctx, keys=Keyring.fixed(store.current()))
    for case_id, ref in [*zip(cases, (f"REF-{i}" for i in range(5)), strict=True), (late, "SENT-REF")]:
        assert show_case(after, actor="emil", case_id=case_id).subject_ref == ref
    report = verify(after)
    assert report.ok and report.unchecked_payloads == 0


def test_resume_without_a_rotation_under_way_is_refused(ctx: Context, cases: list[str]) -> None:
    with pytest.raises(Invalid, match="no unfinished key rotation"):
        rotate_keys(ctx, actor="admin", store=MemoryKeyStore(TEST_KEY), resume=True)


def test_a_rotation_whose_pending_key_is_lost_says_what_to_restore(ctx: Context, cases: list[str]) -> None:
    store = CrashingKeyStore(TEST_KEY)
    with ctx.db.unit_of_work(write=True) as uow:
        uow.repo.set_key_fingerprint("0123456789abcdef", "next", ctx.clock.now())
        uow.commit()
    with pytest.raises(NotAllowed, match="rotation to key 0123456789abcdef is unfinished"):
        rotate_keys(ctx, actor="admin", store=store)


# -- SIGKILL at random moments ------------------------------------------------------------------------

N_CASES = 2000
KILLS = 30


def _rotate() -> list[str]:
    return [sys.executable, "-m", "indsats", "keys", "rotate"]


def _every_case_reads_back(url: str, key_file: Path, n_events: int) -> None:
    """Every subject reference and sealed payload opens under the key file alone."""
    from sqlalchemy import create_engine, text

    from indsats.adapters.keyfile import read_key

    key = read_key(key_file)
    assert key is not None
    cipher = Cipher(key)
    engine = create_engine(url)
    with engine.connect() as conn:
        refs = conn.execute(text("SELECT subject_ref FROM cases")).scalars().all()
        sealed = conn.execute(text("SELECT payload FROM events WHERE payload LIKE '%\"sealed\":%'")).scalars().all()
        current = conn.execute(text("SELECT fingerprint FROM key_fingerprints WHERE status = 'current'")).scalars().all()
    engine.dispose()
    import json

    assert len(refs) == N_CASES and len(sealed) == n_events
    assert sorted(cipher.open(r) for r in refs) == sorted(f"REF-{i}" for i in range(N_CASES))
    for payload in sealed:
        cipher.open(json.loads(payload)["sealed"])
    assert current == [cipher.fingerprint]


@pytest.mark.slow
def test_rotation_killed_at_30_random_moments_is_finished_by_the_next_rotate_and_loses_nothing(
    sqlite_database: Any, clock: Any, catalog: Any, tmp_path: Path
) -> None:
    from conftest import ORGANISATION, register_admin
    from indsats.adapters.keyfile import write_key
    from indsats.engine.context import Context
    from indsats.engine.org.users import add_user
    from indsats.engine.time.calendar import WorkingCalendar

    key_file = tmp_path / "data" / "indsats.key"
    write_key(key_file, TEST_KEY)
    ctx = Context(db=sqlite_database, clock=clock, catalog=catalog, calendar=WorkingCalendar(),
                  keys=Keyring.fixed(TEST_KEY))
    register_admin(ctx)
    for login, (role, reports_to) in ORGANISATION.items():
        add_user(ctx, actor="admin", login=login, name=login.title(), role=role, reports_to=reports_to)
    for i in range(N_CASES):
        open_case(ctx, actor="emil", plan_id=PLAN, subject_ref=f"REF-{i}")
    url = sqlite_database.url.render_as_string(hide_password=False)
    sqlite_database.dispose()
    env = process_env(tmp_path, url, INDSATS_KEY_FILE=str(tmp_path / "data" / "indsats.key"))
    started = time.monotonic()
    first = subprocess.run(_rotate(), env=env, capture_output=True, text=True, timeout=120)
    full = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    rng = random.Random(12)
    kills = 0
    for _ in range(KILLS):
        process = subprocess.Popen(_rotate(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.1, full))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        finished = subprocess.run(_rotate(), env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr
        assert not (tmp_path / "data" / "indsats.key.new").exists()
        _every_case_reads_back(url, key_file, N_CASES)  # each opened event holds the sealed subject
    assert kills >= KILLS // 2  # most runs really were cut short
