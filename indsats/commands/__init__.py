"""The command groups: each parses, calls one use case, and renders (a table, TSV or --json)."""
