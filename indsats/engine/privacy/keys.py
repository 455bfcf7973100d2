"""Keys: rotation (re-encrypt every protected value under a new key, in one transaction) and the key check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from indsats.engine.privacy.crypto import SEALED, Cipher
from indsats.engine.org.users import require_admin

if TYPE_CHECKING:
    from indsats.engine.context import Context


@dataclass(frozen=True, kw_only=True)
class Rotation:
    cases: int
    events: int


def rotate_keys(ctx: Context, *, actor: str, new_key: bytes) -> Rotation:
    """Open everything with the current key and seal it again with ``new_key``; all or nothing."""
    old = ctx.keys.cipher()
    new = Cipher(new_key)
    n_cases = n_events = 0
    with ctx.db.unit_of_work(write=True) as uow:
        repo = uow.repo
        require_admin(repo, actor)
        for case in repo.list_cases(is_open=None):
            if case.subject_ref is None:
                continue
            ref = old.open(case.subject_ref)
            repo.update_case(case.id, {"subject_ref": new.seal(ref), "subject_index": new.index(ref)})
            n_cases += 1
        for event_id, stored in repo.sealed_events():
            repo.set_event_payload(event_id, {**stored, SEALED: new.seal(old.open(stored[SEALED]))})
            n_events += 1
        uow.commit()
    return Rotation(cases=n_cases, events=n_events)


def check_key(ctx: Context) -> str:
    """That the key is there and opens the stored data; one line for ``indsats health``.

    :raises NotAllowed: no key, a malformed one, or one that does not open the stored data.
    """
    cipher = ctx.keys.cipher()
    with ctx.db.unit_of_work() as uow:
        token = uow.repo.any_subject_ref()
    if token is None:
        return "present (nothing encrypted yet to match it against)"
    cipher.open(token)
    return "present and opens the stored data"
