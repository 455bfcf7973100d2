"""What touches the outside world: SMTP, the outbox file, the scheduler, plan files, private files, Graphviz."""
