"""``indsats server``: the use cases behind an HTTP API, and who is calling (peer credentials, OIDC).

The one program that opens the database and holds the key. ``peer`` reads the caller's uid from the unix
socket (``SO_PEERCRED``); ``app`` is the Starlette application for the thin client (``indsats.client``: one
route per use case, errors as RFC 9457 problem details); ``serve`` checks the files, binds the socket and runs
uvicorn and the worker's jobs; ``web`` is the read-only web view behind the OIDC login (``--listen``).
"""
