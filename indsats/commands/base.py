"""What every command shares: the object handed to commands (settings, context, actor) and the group
class that turns an ``IndsatsError`` into one line on stderr and its exit code.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from indsats.errors import IndsatsError, Invalid

if TYPE_CHECKING:
    from indsats.config import Settings
    from indsats.engine.context import Context


class Obj:
    """What the group hands its commands: the --db option, and settings/context built on first use."""

    def __init__(self, db: str | None) -> None:
        self.db = db
        self._settings: Settings | None = None
        self._ctx: Context | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from indsats.config import load_settings

            self._settings = load_settings(db=self.db)
        return self._settings

    def context(self, at: str | None = None) -> Context:
        from indsats.bootstrap import build_context

        clock = None
        if at is not None:
            from indsats.engine.time.clock import FixedClock, parse_time

            clock = FixedClock(parse_time(at))
        if self._ctx is None or at is not None:
            self._ctx = build_context(self.settings, clock=clock)
        return self._ctx

    @property
    def actor(self) -> str:
        return self.settings.user


class IndsatsGroup(click.Group):
    """Maps IndsatsError to its exit code; keeps tracebacks away from users."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IndsatsError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:  # `indsats … | head`: the reader left; that is not an error
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: say so in one line
            if os.environ.get("INDSATS_DEBUG"):
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__} (a bug; run with INDSATS_DEBUG=1 for details)", err=True
            )
            sys.exit(1)


pass_obj = click.make_pass_decorator(Obj)


def parse_date(text: str | None, option: str) -> Any:
    """A ``--since``/``--until``/``--before`` date, or ``Invalid`` (exit 5)."""
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"bad date '{text}' for {option}: use YYYY-MM-DD, e.g. 2026-03-02") from None
