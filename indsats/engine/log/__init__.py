"""The event log: events and the per-case hash chain, the journal that appends them, and verify."""
