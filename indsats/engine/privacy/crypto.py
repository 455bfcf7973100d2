"""Encryption at rest: the subject reference, notes and every field a plan marks ``sensitive``.

AES-256-GCM (authenticated encryption, from the ``cryptography`` package) seals each protected value,
under a key derived from the one key there is to keep (32 url-safe base64 bytes, Fernet's key format), a
random 96-bit nonce per value: a token is ``a1:`` and the url-safe base64 of the nonce and the ciphertext
with its tag. Tokens sealed before (Fernet: AES-128-CBC with HMAC-SHA256, under the same key) still open,
and ``keys rotate`` re-seals them. GCM rather than Fernet because sealing is on every advance that records
a note or a sensitive field: one call into OpenSSL, a fifth of Fernet's time, and a shorter token. Random
96-bit nonces keep the chance that any two values share one below 2^-32 for up to 2^32 values under one key
(NIST SP 800-38D), far beyond a municipality's cases; ``keys rotate`` gives a new key.

A keyed HMAC of the subject reference (the *subject index*) finds a subject's cases without
decrypting anything. The key is loaded only by commands that need plaintext, so ``stuck``,
``report`` and ``remind`` work without it.

>>> keys = Keyring.fixed(new_key())
>>> keys.cipher().open(keys.cipher().seal("REF-1"))
'REF-1'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from typing import Any

from indsats.errors import NotAllowed

# Payload keys that are always protected; a plan adds its ``sensitive: true`` fields.
PROTECTED_KEYS = ("subject_ref", "note", "reporter")
SEALED = "sealed"
# What a sealed token holds: ``json.dumps(secret, sort_keys=True, ensure_ascii=False)``, its encoder made once.
_SECRET_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
GCM = "a1:"  # how a token sealed with AES-256-GCM begins (a Fernet token begins "gAAAAA")
_NONCE = 12


def new_key() -> bytes:
    """A new key: 32 random bytes, url-safe base64 (as Fernet writes its keys, so older key files still serve)."""
    return base64.urlsafe_b64encode(os.urandom(32))


def key_fingerprint(key: bytes) -> str:
    """A short, stable name for an encryption key; the database records the one its data is under."""
    raw = base64.urlsafe_b64decode(key.strip())
    return hashlib.sha256(b"indsats key fingerprint\0" + raw).hexdigest()[:16]


class Cipher:
    """Seals under one key and opens under it or any of ``others`` (during a key rotation both open)."""

    def __init__(self, key: bytes, *others: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        keys = [key.strip()] + [k.strip() for k in others if k.strip() != key.strip()]
        raws = [_raw_key(k) for k in keys]
        self._keys = keys
        # The sealing keys and the subject index's, each derived so that one secret is all there is to keep.
        self._gcms = [AESGCM(hashlib.sha256(b"indsats sealing key\0" + raw).digest()) for raw in raws]
        self._fernets: list[Any] | None = None  # for tokens sealed before GCM, made on first need
        self._index_keys = [hashlib.sha256(b"indsats subject index\0" + raw).digest() for raw in raws]
        self._index_key = self._index_keys[0]
        self.fingerprint = key_fingerprint(keys[0])
        self.fingerprints = tuple(key_fingerprint(k) for k in keys)

    def with_primary(self, fingerprint: str) -> Cipher:
        """The same keys, sealing under the one with ``fingerprint`` (which must be among them)."""
        index = self.fingerprints.index(fingerprint)
        if index == 0:
            return self
        keys = list(self._keys)
        return Cipher(keys.pop(index), *keys)

    def only_primary(self) -> Cipher:
        return Cipher(self._keys[0])

    def seal(self, text: str) -> str:
        nonce = os.urandom(_NONCE)
        return GCM + base64.urlsafe_b64encode(nonce + self._gcms[0].encrypt(nonce, text.encode("utf-8"), None)).decode("ascii")

    def open(self, token: str) -> str:
        for i in range(len(self._keys)):
            found = self._open_with(i, token)
            if found is not None:
                return found
        raise NotAllowed("the encryption key does not open this data (wrong key?); nothing was changed")

    def opens_with_primary(self, token: str) -> bool:
        return self.open_with_primary(token) is not None

    def open_with_primary(self, token: str) -> str | None:
        """The text if ``token`` was sealed under the sealing key; None if under another (or none)."""
        return self._open_with(0, token)

    def _open_with(self, i: int, token: str) -> str | None:
        """The text if the ``i``-th key opens ``token`` (GCM, or Fernet for a token sealed before); else None."""
        if not token.startswith(GCM):
            return self._open_fernet(i, token)
        from cryptography.exceptions import InvalidTag

        try:
            sealed = base64.urlsafe_b64decode(token[len(GCM):])
            return self._gcms[i].decrypt(sealed[:_NONCE], sealed[_NONCE:], None).decode("utf-8")
        except (InvalidTag, ValueError):  # also a malformed token: bad base64, too short, not UTF-8
            return None

    def _open_fernet(self, i: int, token: str) -> str | None:
        from cryptography.fernet import Fernet, InvalidToken

        if self._fernets is None:
            self._fernets = [Fernet(k) for k in self._keys]
        try:
            return str(self._fernets[i].decrypt(token.encode("ascii")).decode("utf-8"))
        except (InvalidToken, ValueError):
            return None

    def index(self, subject_ref: str) -> str:
        return hmac.new(self._index_key, subject_ref.strip().encode("utf-8"), hashlib.sha256).hexdigest()

    def indices(self, subject_ref: str) -> list[str]:
        """The subject index under every key held (rows re-encrypted and not yet re-encrypted both match)."""
        text = subject_ref.strip().encode("utf-8")
        return [hmac.new(k, text, hashlib.sha256).hexdigest() for k in self._index_keys]

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
        stored[SEALED] = self.seal(_SECRET_JSON.encode(secret))
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


def _raw_key(key: bytes) -> bytes:
    """The key's 32 bytes (its url-safe base64 decoded), or ``NotAllowed``."""
    try:
        raw = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise NotAllowed("the encryption key is malformed (expected 32 url-safe base64 bytes)")
    return raw


class Keyring:
    """Where the key comes from; read on first use only. ``others`` loads keys that also open data (the
    new key of an unfinished rotation): which of them seals is the database's word (``fingerprints``)."""

    def __init__(self, loader: Callable[[], bytes | None], others: Callable[[], list[bytes]] = list) -> None:
        self._loader = loader
        self._others = others
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
            self._cipher = Cipher(key, *self._others())
        return self._cipher

    def optional(self) -> Cipher | None:
        """The cipher if a usable key is configured, else None (for commands that can do without)."""
        try:
            return self.cipher()
        except NotAllowed:
            return None
