"""``indsats server``: the use cases behind an HTTP API, and who is calling (peer credentials, OIDC)."""
