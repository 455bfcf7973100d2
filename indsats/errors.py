"""Every error a user can cause, with the exit code the command line ends with.

Raisers pass facts; each class writes its sentence. Messages name case ids, states, triggers and
roles only, never personal data. This module imports nothing from click or SQLAlchemy.
"""

from __future__ import annotations

from typing import ClassVar

from indsats.i18n import N_


class IndsatsError(Exception):
    """Something went wrong that the user can act on."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadConfig(IndsatsError):
    """The configuration is wrong: an unknown key, a missing config file, a secret others may read."""

    exit_code = 2


class SecretReadable(BadConfig):
    """A config file holding a secret (a password in a URL) can be read by others: exit 2 like any bad config,
    except for ``indsats server``, which refuses to start with exit 7 as it does for a readable database or key."""


class NotFound(IndsatsError):
    """A case, user, plan or reminder does not exist (or is not visible to the actor)."""

    exit_code = 3


class NotAllowed(IndsatsError):
    """The actor's identity, role or relation to the case does not permit this."""

    exit_code = 4


class Invalid(IndsatsError):
    """The input is wrong: trigger not possible in this state, missing or bad field, bad plan, bad time."""

    exit_code = 5


class Conflict(IndsatsError):
    """Someone else changed the same case at the same time."""

    exit_code = 6


class StorageUnavailable(IndsatsError):
    """The database cannot be reached, is locked, read-only, full or not initialised."""

    exit_code = 7


class MailUnavailable(IndsatsError):
    """The mail server cannot be reached: nothing was handed over (the reminders are kept for a retry)."""

    exit_code = 7


class IntegrityBroken(IndsatsError):
    """The event log or a projection does not verify."""

    exit_code = 8


EXIT_CODES: dict[int, str] = {
    0: N_("ok"),
    1: N_("unexpected error (a bug: please report it)"),
    2: N_("usage error (unknown option, missing argument, bad configuration)"),
    NotFound.exit_code: N_("not found (case, user, plan)"),
    NotAllowed.exit_code: N_("not allowed (role, identity, relation to the case)"),
    Invalid.exit_code: N_("invalid (wrong trigger for the state, missing or bad field, bad plan, bad time)"),
    Conflict.exit_code: N_("conflict (the case was changed concurrently)"),
    StorageUnavailable.exit_code: N_("database unavailable, locked, read-only, full or at another schema revision; "
    "mail server unreachable; unhealthy"),
    IntegrityBroken.exit_code: N_("integrity failure (verify found a break)"),
}


def exit_codes_text() -> str:
    """The exit codes as the help's epilog says them, in the current language."""
    from indsats.i18n import _

    codes = "; ".join(str(code) + " " + _(text) for code, text in sorted(EXIT_CODES.items()))
    return _("Exit codes: {codes}").format(codes=codes)
