"""Reminders: which rows a state change plans (pure), their texts, and the sweep that delivers them."""
