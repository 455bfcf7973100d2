"""The municipality's identity provider: its discovery document and keys, the login (authorization code
with PKCE, through Authlib's OAuth 2 client), and checking a JWT it signed (ID tokens, bearer tokens).

A token is accepted only if its signature verifies against the provider's published keys (JWKS, fetched
again once when a key is unknown, for key rotation), its issuer is the configured one, its audience
includes ours, and it has not expired. Algorithms are the asymmetric ones only: never ``none`` or HMAC,
which would let anyone who knows the (public) client id mint tokens.
"""

from __future__ import annotations

import secrets
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indsats.errors import Invalid
from indsats.i18n import _

if TYPE_CHECKING:
    import httpx

    from indsats.config import Settings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_SECONDS = 60  # clock skew between us and the provider
_REFETCH_AFTER_SECONDS = 60  # an unknown key fetches the JWKS again, at most this often


class TokenRefused(Exception):
    """A token that is not the provider's, not for us, or no longer valid (the reason names no person)."""


class ProviderUnavailable(Exception):
    """The identity provider did not answer (or not with its discovery document or keys)."""


@dataclass(frozen=True, kw_only=True)
class OidcConfig:
    """The OIDC client this server is, at the provider ``issuer``."""

    issuer: str
    client_id: str
    client_secret: str | None = None  # None: a public client (PKCE only)
    login_claim: str = "preferred_username"
    audience: str | None = None  # of bearer tokens; default the client id
    scope: str = "openid profile email"

    @property
    def token_audience(self) -> str:
        return self.audience or self.client_id

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """The configured client, or None when no issuer is set; ``Invalid`` for half a configuration."""
        if settings.oidc_issuer is None:
            return None
        if settings.oidc_client_id is None:
            raise Invalid(_("oidc_issuer is set but oidc_client_id is not: both are needed for the web login"))
        secret = None
        if settings.oidc_client_secret_file is not None:
            try:
                secret = settings.oidc_client_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise Invalid(_("{path}: cannot read the OIDC client secret: {why}").format(
                    path=settings.oidc_client_secret_file, why=exc.strerror)) from None
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"), client_id=settings.oidc_client_id, client_secret=secret,
            login_claim=settings.oidc_login_claim, audience=settings.oidc_audience,
        )


@dataclass(frozen=True, kw_only=True)
class LoginStart:
    """Where to send the browser, and what to keep (in the session) until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class Provider:
    """One identity provider, its metadata and keys cached for the life of the server."""

    def __init__(self, config: OidcConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._keys: Any = None  # joserfc KeySet
        self._keys_fetched = 0.0

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            metadata = await self._get_json(f"{self.config.issuer}/.well-known/openid-configuration")
            if str(metadata.get("issuer", "")).rstrip("/") != self.config.issuer:
                raise TokenRefused(_("the provider at {issuer} names another issuer in its metadata").format(
                    issuer=self.config.issuer))
            self._metadata = metadata
        return self._metadata

    async def start_login(self, redirect_uri: str) -> LoginStart:
        """The authorization request: code flow, S256 PKCE challenge, state and nonce."""
        from authlib.common.security import generate_token

        verifier = generate_token(48)
        nonce = secrets.token_urlsafe(24)
        endpoint = (await self.metadata())["authorization_endpoint"]
        async with self._client(redirect_uri) as client:
            url, state = client.create_authorization_url(endpoint, code_verifier=verifier, nonce=nonce)
        return LoginStart(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def finish_login(self, *, redirect_uri: str, code: str, code_verifier: str, nonce: str) -> str:
        """Exchange the code (with the PKCE verifier) and return the login from the verified ID token."""
        endpoint = (await self.metadata())["token_endpoint"]
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(endpoint, code=code, code_verifier=code_verifier)
        except Exception as exc:  # Authlib raises OAuthError, httpx its own: either way the login failed
            raise TokenRefused(_("the provider refused the code: {error}").format(error=type(exc).__name__)) from None
        if "id_token" not in token:
            raise TokenRefused(_("the provider returned no ID token"))
        claims = await self.verify(token["id_token"], audience=self.config.client_id)
        if claims.get("nonce") != nonce:
            raise TokenRefused(_("the ID token's nonce is not the one this login sent"))
        return self.login_of(claims)

    async def verify(self, token: str, *, audience: str | None = None) -> dict[str, Any]:
        """The claims of a JWT the provider signed for ``audience`` (default: bearer tokens' audience)."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            header = _header(token)
            claims: dict[str, Any] | None = None
            for key in await self._candidates(header):
                try:
                    claims = jwt.decode(token, key, algorithms=ALGORITHMS).claims
                    break
                except JoseError:
                    continue
            if claims is None:
                raise TokenRefused(_("the token's signature matches none of the provider's keys"))
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": audience or self.config.token_audience},
                exp={"essential": True},
            ).validate(claims)
        except JoseError as exc:
            raise TokenRefused(_("the token is not valid here: {error}").format(error=exc.error)) from None
        return claims

    def login_of(self, claims: dict[str, Any]) -> str:
        login = claims.get(self.config.login_claim)
        if not isinstance(login, str) or not login:
            raise TokenRefused(_("the token has no '{claim}' claim").format(claim=self.config.login_claim))
        return login

    async def _candidates(self, header: dict[str, Any]) -> list[Any]:
        """The keys that may have signed a token with this header; the JWKS again once if none fits."""
        for attempt in (0, 1):
            keys = await self._key_set(force=attempt == 1)
            kid = header.get("kid")
            # Some providers (and test doubles) sign without a key id: then every signing key may be it.
            found = [k for k in keys.keys if (kid is None or k.kid == kid) and k.get("use", "sig") == "sig"]
            if found or attempt == 1:
                return found
        return []

    async def _key_set(self, *, force: bool) -> Any:
        from joserfc.jwk import KeySet

        stale = time.monotonic() - self._keys_fetched > _REFETCH_AFTER_SECONDS
        if self._keys is None or (force and stale):
            self._keys = KeySet.import_key_set(await self._get_json((await self.metadata())["jwks_uri"]))
            self._keys_fetched = time.monotonic()
        return self._keys

    async def _get_json(self, url: str) -> Any:
        import httpx

        try:
            response = await self._http.get(url)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"{url}: {type(exc).__name__}") from None

    def _client(self, redirect_uri: str) -> Any:
        import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when first imported)

        with warnings.catch_warnings():
            # Authlib 1.7+ warns that plain httpx is deprecated in favour of httpx2; it works the same.
            warnings.simplefilter("ignore")
            from authlib.integrations.httpx_client import AsyncOAuth2Client

        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=self.config.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post" if self.config.client_secret else "none",
        )


def _header(token: str) -> dict[str, Any]:
    import base64
    import json

    try:
        encoded = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, IndexError):
        raise TokenRefused(_("the token is not a JWT")) from None
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise TokenRefused(_("the token is not signed with an algorithm accepted here"))
    return header
