"""One repository per aggregate (users, plans, cases, events, reminders); ``storage.repository.Repository`` composes them."""
