"""Key rotation that cannot lose data: re-encrypt every protected value under a new key, in pages, with
the database saying at every moment which key is current and which is next.

The steps, each safe to be killed after:

1. the new key is written to the pending key file (``KEY.new``) and flushed;
2. the database records it as ``next`` (from here on both keys open everything: ``Cipher(new, old)``);
3. page by page, each value not yet under the new key is re-encrypted (a page is one transaction);
4. one last transaction takes the fingerprints' locks (writers finish first), re-encrypts what writers
   added meanwhile, and makes the new key ``current``;
5. the key files are swapped: the old key kept as ``KEY.old``, the new one becomes ``KEY``.

``keys rotate`` (or ``keys rotate --resume``) looks at where things stand and carries on from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indsats.engine.org.users import require_admin
from indsats.engine.privacy.crypto import SEALED, Cipher, key_fingerprint, new_key
from indsats.engine.privacy.fingerprints import WrongKey, adopt_key
from indsats.errors import Invalid, NotAllowed
from indsats.i18n import _

if TYPE_CHECKING:
    from indsats.engine.context import Context
    from indsats.engine.ports import KeyStore
    from indsats.storage.repository import Repository

PAGE = 200


@dataclass(frozen=True, kw_only=True)
class Rotation:
    cases: int
    events: int
    fingerprint: str  # the key now current
    resumed: bool = False  # an interrupted rotation was carried on


def rotate_keys(ctx: Context, *, actor: str, store: KeyStore, resume: bool = False) -> Rotation:
    """Rotate to a new key, or finish the rotation an earlier run began (``resume`` refuses to begin one).

    :raises NotAllowed: the actor is no admin; no key; the key is not the one the data is under.
    :raises Invalid: ``resume`` with no rotation to resume.
    """
    old = store.current()
    if old is None:
        raise NotAllowed("no encryption key to rotate from: set INDSATS_KEY_FILE")
    pending = store.pending()
    old_fp = key_fingerprint(old)
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        require_admin(repo, actor)
        fps = repo.key_fingerprints(lock=True)
        current = fps.get("current") or adopt_key(repo, Cipher(old), ctx.clock.now())
        following = fps.get("next")
        uow.commit()
    if following is None and pending is not None and key_fingerprint(pending) == current != old_fp:
        store.promote_pending()  # the database finished; the files had not been swapped yet
        return Rotation(cases=0, events=0, fingerprint=current, resumed=True)
    if following is None:
        if resume:
            raise Invalid("there is no unfinished key rotation to resume")
        if current != old_fp:
            raise WrongKey(current, old_fp)
        key = pending if pending is not None and key_fingerprint(pending) != old_fp else None
        if key is None:
            key = new_key()
            store.write_pending(key)
        with ctx.db.unit_of_work(write=True) as uow:
            uow.repo.set_key_fingerprint(key_fingerprint(key), "next", ctx.clock.now())
            uow.commit()
        resumed = False
    else:
        if pending is None or key_fingerprint(pending) != following:
            raise NotAllowed(
                f"a rotation to key {following} is unfinished, but {store.describe()} does not hold that key: "
                "restore that file, then run 'indsats keys rotate --resume'"
            )
        key, resumed = pending, True
    cipher = Cipher(key, old)  # seals under the new key, opens under either
    with ctx.db.unit_of_work() as uow:
        case_ids, event_ids = uow.repo.encrypted_case_ids(), uow.repo.sealed_event_ids()
    n_cases = n_events = 0
    for start in range(0, len(case_ids), PAGE):
        n_cases += _in_transaction(ctx, lambda repo, ids=case_ids[start : start + PAGE]: _rotate_cases(repo, cipher, ids))
    for start in range(0, len(event_ids), PAGE):
        n_events += _in_transaction(ctx, lambda repo, ids=event_ids[start : start + PAGE]: _rotate_events(repo, cipher, ids))
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        now = ctx.clock.now()
        repo.set_key_fingerprint(current, "retired", now)  # locks the rows every writer reads with FOR SHARE
        repo.set_key_fingerprint(key_fingerprint(key), "current", now)
        # What writers added under the old key while the pages ran: subject references and sealed payloads
        # are written only when a case opens or an event is appended, so only new rows can be left.
        known = set(case_ids)
        n_cases += _rotate_cases(repo, cipher, [c for c in repo.encrypted_case_ids() if c not in known])
        n_events += _rotate_events(repo, cipher, repo.sealed_event_ids(after=event_ids[-1] if event_ids else 0))
        uow.commit()
    store.promote_pending()
    return Rotation(cases=n_cases, events=n_events, fingerprint=key_fingerprint(key), resumed=resumed)


def _in_transaction(ctx: Context, work: Any) -> int:
    with ctx.db.unit_of_work(write=True) as uow:
        done = work(uow.repo)
        uow.commit()
    return int(done)


def _rotate_cases(repo: Repository, cipher: Cipher, ids: list[str]) -> int:
    changes = []
    for case_id, token in repo.encrypted_subjects(ids) if ids else []:
        ref = cipher.open_with_primary(token)
        if ref is not None:
            continue  # done already (by a run that was interrupted after this page)
        ref = cipher.open(token)
        changes.append({"id": case_id, "subject_ref": cipher.seal(ref), "subject_index": cipher.index(ref)})
    repo.update_case_heads(changes)
    return len(changes)


def _rotate_events(repo: Repository, cipher: Cipher, ids: list[int]) -> int:
    changes = []
    for event_id, stored in repo.sealed_events(ids) if ids else []:
        if cipher.open_with_primary(stored[SEALED]) is not None:
            continue
        changes.append((event_id, {**stored, SEALED: cipher.seal(cipher.open(stored[SEALED]))}))
    repo.set_event_payloads(changes)
    return len(changes)


def check_key(ctx: Context) -> str:
    """That the key is there and opens the stored data; one line for ``indsats health``.

    :raises NotAllowed: no key, a malformed one, or one that does not open the stored data.
    """
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work() as uow:
        token = uow.repo.any_subject_ref()
    if token is None:
        return _("present (nothing encrypted yet to match it against)")
    cipher.open(token)
    return _("present and opens the stored data")
