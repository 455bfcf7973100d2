"""The organisation: users, their roles and reports-to chains, and setting up the first admin."""
