"""Privacy: encryption at rest and keys, the access log, retention, and the citizen's right of access."""
