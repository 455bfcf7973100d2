"""The supervisor's web view and the JSON API over HTTP(S), behind the municipality's identity provider.

``create_app(context, config)`` (in ``app.py``) is a Starlette app: read-only pages in Danish under ``/``
(OIDC login: authorization code + PKCE; a signed, HttpOnly, SameSite session cookie) and a JSON API under
``/api`` that takes ``Authorization: Bearer`` tokens from the same provider. Every page calls one engine use
case with the proven login as the actor, so need-to-know and the access log are the engine's, as in the CLI.
``serve.py`` runs it with uvicorn on ``HOST:PORT`` (``indsats server --listen``).
"""
