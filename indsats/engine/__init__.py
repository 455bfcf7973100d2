"""The engine: plans, the state machine, cases, the calendar, reminders and delivery."""
