"""Encryption at rest: the subject reference, notes and every field a plan marks ``sensitive``.

Fernet (AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package) seals each protected value;
a keyed HMAC of the subject reference (the *subject index*) finds a subject's cases without
decrypting anything. The key is loaded only by commands that need plaintext, so ``stuck``,
``report`` and ``remind`` work without it.

>>> keys = Keyring.fixed(new_key())
>>> keys.cipher().open(keys.cipher().seal("REF-1"))
'REF-1'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from indsats.errors import NotAllowed

# Payload keys that are always protected; a plan adds its ``sensitive: true`` fields.
PROTECTED_KEYS = ("subject_ref", "note", "reporter")
SEALED = "sealed"


def new_key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


class Cipher:
    """Seals and opens text under one key."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(key.strip())
        except (ValueError, TypeError):
            raise NotAllowed("the encryption key is malformed (expected 32 url-safe base64 bytes)") from None
        raw = base64.urlsafe_b64decode(key.strip())
        # A separate key for the subject index, derived so that one secret is all there is to keep.
        self._index_key = hashlib.sha256(b"indsats subject index\0" + raw).digest()

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise NotAllowed("the encryption key does not open this data (wrong key?); nothing was changed") from None

    def index(self, subject_ref: str) -> str:
        return hmac.new(self._index_key, subject_ref.strip().encode("utf-8"), hashlib.sha256).hexdigest()

    def seal_payload(self, payload: dict[str, Any] | None, sensitive: frozenset[str]) -> dict[str, Any] | None:
        """Move the protected parts of an event payload into one sealed token."""
        if not payload:
            return payload
        secret: dict[str, Any] = {k: payload[k] for k in PROTECTED_KEYS if k in payload}
        fields = payload.get("fields") or {}
        hidden = {k: v for k, v in fields.items() if k in sensitive}
        if hidden:
            secret["fields"] = hidden
        if not secret:
            return payload
        stored = {k: v for k, v in payload.items() if k not in PROTECTED_KEYS}
        if hidden:
            stored["fields"] = {k: v for k, v in fields.items() if k not in sensitive}
            if not stored["fields"]:
                del stored["fields"]
        stored[SEALED] = self.seal(json.dumps(secret, sort_keys=True, ensure_ascii=False))
        return stored

    def open_payload(self, stored: dict[str, Any] | None) -> dict[str, Any] | None:
        """The payload as it was written (the digest in the chain is over this)."""
        return open_payload(stored, self)


def open_payload(stored: dict[str, Any] | None, cipher: Cipher | None) -> dict[str, Any] | None:
    if not stored or SEALED not in stored:
        return stored
    if cipher is None:
        raise NotAllowed("this needs the encryption key: set INDSATS_KEY_FILE or INDSATS_KEY")
    secret = json.loads(cipher.open(stored[SEALED]))
    plain = {k: v for k, v in stored.items() if k != SEALED}
    hidden = secret.pop("fields", None)
    plain.update(secret)
    if hidden:
        plain["fields"] = {**plain.get("fields", {}), **hidden}
    return plain


class Keyring:
    """Where the key comes from; read on first use only."""

    def __init__(self, loader: Callable[[], bytes | None]) -> None:
        self._loader = loader
        self._cipher: Cipher | None = None

    @classmethod
    def fixed(cls, key: bytes | None) -> Keyring:
        return cls(lambda: key)

    @classmethod
    def none(cls) -> Keyring:
        return cls(lambda: None)

    def cipher(self) -> Cipher:
        """The cipher, or ``NotAllowed`` (exit 4) when no key is configured or it cannot be read."""
        if self._cipher is None:
            key = self._loader()
            if key is None:
                raise NotAllowed(
                    "no encryption key: set INDSATS_KEY_FILE (or INDSATS_KEY); 'indsats keys new FILE' makes one"
                )
            self._cipher = Cipher(key)
        return self._cipher

    def optional(self) -> Cipher | None:
        """The cipher if a usable key is configured, else None (for commands that can do without)."""
        try:
            return self.cipher()
        except NotAllowed:
            return None
