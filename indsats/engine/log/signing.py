"""The signing key of seals: Ed25519 (``cryptography``). The private key signs (the server, or in direct
mode the one person who owns the data directory); the public key is all ``verify`` needs.

Keys travel as text: the 32 raw bytes in url-safe base64. ``SealKeys`` is what the engine is handed (in
``Context.signing``): it loads the private key only when a seal is written, and gives the public key to
``verify`` (derived from the private one when only that is configured).

>>> keys = SealKeys.fixed(new_signing_key())
>>> body = b"checkpoint"
>>> keys.verifier().verify(body, keys.signer().sign(body))
True
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from indsats.errors import NotAllowed
from indsats.i18n import _


def new_signing_key() -> bytes:
    """A new Ed25519 private key, as text (base64 of its 32 raw bytes)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.urlsafe_b64encode(raw)


def _raw(text: bytes, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip())
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise NotAllowed(_("the {what} is malformed (expected 32 url-safe base64 bytes)").format(what=what))
    return raw


def fingerprint_of(public_text: str) -> str:
    """A short, stable name for a public key (printed, and stored in every seal it signs)."""
    return hashlib.sha256(b"indsats seal key\0" + _raw(public_text.encode("ascii"), "public key")).hexdigest()[:16]


class SealSigner:
    """Signs seal bodies with the private key."""

    def __init__(self, private_text: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._key = Ed25519PrivateKey.from_private_bytes(_raw(private_text, "signing key"))
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.urlsafe_b64encode(raw).decode("ascii")
        self.key_id = fingerprint_of(self.public_key)

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self._key.sign(body)).decode("ascii")


class SealVerifier:
    """Checks seal signatures with the public key only."""

    def __init__(self, public_text: str) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        self._key = Ed25519PublicKey.from_public_bytes(_raw(public_text.encode("ascii"), "public key"))
        self.key_id = fingerprint_of(public_text)

    def verify(self, body: bytes, signature: str) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(base64.b64decode(signature.encode("ascii"), validate=True), body)
        except (InvalidSignature, ValueError):
            return False
        return True


class SealKeys:
    """Where the signing key (private, for ``seal``) and the public key (for ``verify``) come from; read on
    first use. The server wires ``SealKeys.fixed(private)``; clients are never handed one."""

    def __init__(
        self,
        private_loader: Callable[[], bytes | None],
        public_loader: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._private_loader = private_loader
        self._public_loader = public_loader
        self._signer: SealSigner | None = None

    @classmethod
    def fixed(cls, private_text: bytes | None, public_text: str | None = None) -> SealKeys:
        return cls(lambda: private_text, lambda: public_text)

    @classmethod
    def none(cls) -> SealKeys:
        return cls(lambda: None)

    def signer(self) -> SealSigner:
        """The private key, or ``NotAllowed`` (exit 4) when this process holds none."""
        if self._signer is None:
            text = self._private_loader()
            if text is None:
                raise NotAllowed(
                    "no signing key: seals are written where the signing key is (the server, or in direct mode "
                    "the key beside the encryption key, made by 'indsats init'; INDSATS_SIGNING_KEY_FILE)"
                )
            self._signer = SealSigner(text)
        return self._signer

    def verifier(self) -> SealVerifier | None:
        """The public key: configured, else derived from the private key; None when neither is at hand."""
        public = self._public_loader()
        if public:
            return SealVerifier(public)
        try:
            return SealVerifier(self.signer().public_key)
        except NotAllowed:
            return None
