"""What every command shares: the object handed to commands (settings, context, actor) and the group
class that turns an ``IndsatsError`` into one line on stderr and its exit code.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Literal, NoReturn, overload

import click

from indsats.errors import IndsatsError, Invalid
from indsats.i18n import N_, _

if TYPE_CHECKING:
    from indsats.config import Settings
    from indsats.engine.context import Context


class Obj:
    """What the group hands its commands: the --db option, settings and context built on first use, and
    ``run``, the one way a command reaches a use case (here, or through ``indsats server``)."""

    def __init__(self, db: str | None) -> None:
        self.db = db
        self._settings: Settings | None = None
        self._ctx: Context | None = None
        self._on_the_database = False  # a command that looks after the installation, on its named database

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from indsats.config import load_settings

            from indsats import i18n

            self._settings = load_settings(db=self.db)
            i18n.use(self._settings.language)
        return self._settings

    @property
    def server(self) -> str | None:
        """The server every command goes to (``INDSATS_SERVER`` or config ``server``), unless --db is given
        (or ``on_the_database`` found the database named). Found without loading the settings: a thin client
        never loads the settings model."""
        from indsats.locations import server_address

        return None if self.db is not None or self._on_the_database else server_address(os.environ)

    def on_the_database(self) -> bool:
        """For the commands that look after the installation itself (``init``, ``backup``, ``keys rotate``,
        ``worker``; and the service's own checks, ``db status`` and ``health``): where the settings name a
        database (--db, ``INDSATS_DATABASE_URL``, ``database_url``), they run on it even if ``server`` is set,
        as the service's own config may set it. Without a named database a server set stays the way: a
        person's thin-client settings never make a stray database in their own data directory."""
        from indsats.locations import names_database

        if self.server is not None and names_database(os.environ):
            self._on_the_database = True
        return self.server is None

    def run(self, use_case: str, **args: Any) -> Any:
        """Run the use case ``use_case`` (a name in ``indsats.usecases.table``) with ``args`` as the actor:
        in this process, or through the server, which learns who is calling from the kernel."""
        server = self.server
        if server is not None:
            if os.environ.get("INDSATS_USER"):
                from indsats.errors import NotAllowed
                from indsats.locations import os_login

                raise NotAllowed(_("with a server you act as your OS login, {os_login}: unset INDSATS_USER").format(os_login=os_login()))
            from indsats.client import call

            return call(server, use_case, args)
        from indsats.usecases import Call, run

        return run(use_case, Call(ctx=self.context(), actor=self.actor, settings=self.settings), args)

    def context(self, at: str | None = None) -> Context:
        """The direct-mode collaborators (the database, the key); with a server set, only on a database the
        settings name (``on_the_database``), else refused: the server holds them."""
        from indsats.bootstrap import build_context

        if not self.on_the_database():
            from indsats.errors import NotAllowed

            raise NotAllowed(_("this command runs directly on the database, as the server's service user: name the "
                               "database there (--db, INDSATS_DATABASE_URL or database_url in its config file)"))

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


def wants_json(args: list[str]) -> bool:
    """Whether the command line asks for ``--json`` (options end at ``--``)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def fail(message: str, exit_code: int, *, as_json: bool) -> NoReturn:
    """The one way an error leaves: one line on stderr (``Error: …``, or a JSON object under ``--json``)."""
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": exit_code}, ensure_ascii=False), err=True)
    else:
        click.echo(_("Error: {message}").format(message=message), err=True)
    sys.exit(exit_code)


def _one_line(message: str) -> str:
    from indsats.commands.render import printable

    return printable(message.strip())


# The epilog that stands for the exit codes, written out in the current language when help is shown.
EXIT_CODES_EPILOG = "indsats:exit-codes"


class IndsatsGroup(click.Group):
    """Maps IndsatsError to its exit code; keeps tracebacks away from users; under ``--json`` every error,
    usage errors included, is one JSON object on stderr: ``{"error": "…", "exit_code": N}``."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        as_json = wants_json(args)
        if parent is None:  # the command line starts: speak the configured language, help texts included
            from indsats import i18n

            i18n.use(i18n.configured_language())
            translate_help(self)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.Exit:
            raise
        except click.ClickException as exc:
            if not as_json:
                raise
            fail(_one_line(exc.format_message()), exc.exit_code, as_json=True)
        ctx.meta["indsats.json"] = as_json
        return ctx

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog != EXIT_CODES_EPILOG:
            return super().format_epilog(ctx, formatter)
        from indsats.errors import exit_codes_text

        self.epilog = exit_codes_text()  # in the language of this start
        try:
            super().format_epilog(ctx, formatter)
        finally:
            self.epilog = EXIT_CODES_EPILOG

    def invoke(self, ctx: click.Context) -> Any:
        as_json = bool(ctx.meta.get("indsats.json"))
        try:
            return super().invoke(ctx)
        except IndsatsError as exc:
            fail(_one_line(exc.message), exc.exit_code, as_json=as_json)
        except (click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except click.ClickException as exc:
            if not as_json:
                raise
            fail(_one_line(exc.format_message()), exc.exit_code, as_json=True)
        except BrokenPipeError:  # `indsats … | head`: the reader left; that is not an error
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            fail(_("interrupted"), 130, as_json=as_json)
        except Exception as exc:  # a bug: say so in one line
            if os.environ.get("INDSATS_DEBUG"):
                raise
            fail(_("unexpected {error} (a bug; run with INDSATS_DEBUG=1 for details)").format(error=type(exc).__name__),
                 1, as_json=as_json)


pass_obj = click.make_pass_decorator(Obj)

# click's own words ("Usage:", "Options:", "Show this message and exit.") come from these modules' ``_``.
_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


_NOT_A_NUMBER = "{value!r} is not a valid {number_type}."


class _NumberMessage(str):
    """Click's "not a valid number" message, whose ``number_type`` (a type's English name) is said in the
    current language too when the message is filled in."""

    def format(self, *args: Any, **values: Any) -> str:
        if isinstance(values.get("number_type"), str):
            values["number_type"] = _(values["number_type"])
        return str.format(self, *args, **values)


def _click_words(message: str) -> str:
    """``_`` for ``click.types``: its words in the current language, the number types' names included."""
    text = _(message)
    return _NumberMessage(text) if message == _NOT_A_NUMBER else text


def translate_help(command: click.Command) -> None:
    """Put the help texts of ``command`` and everything under it in the current language.

    Click keeps help texts as plain strings made at import time, before the language is known; the English
    originals are kept on each object, so a later start in another language translates them again."""
    import importlib
    import inspect

    from indsats.i18n import _, ngettext

    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = _click_words if name == "types" else _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
    objects: list[Any] = [command]
    while objects:
        obj = objects.pop()
        originals = obj.__dict__.setdefault("_indsats_help", {})
        for attribute in ("help", "short_help", "epilog"):
            if attribute not in originals:
                originals[attribute] = getattr(obj, attribute, None)
            text = originals[attribute]
            if text:
                setattr(obj, attribute, _(inspect.cleandoc(text)))
        if isinstance(obj, click.Command):
            obj._help_option = None  # click makes its --help option once, in the language of that moment
            if "options_metavar" not in originals:
                originals["options_metavar"] = obj.options_metavar
            if originals["options_metavar"]:
                obj.options_metavar = metavar_words(originals["options_metavar"])
            objects.extend(obj.params)
        if isinstance(obj, click.Group):
            if "subcommand_metavar" not in originals:
                originals["subcommand_metavar"] = obj.subcommand_metavar
            obj.subcommand_metavar = metavar_words(originals["subcommand_metavar"])
            objects.extend(obj.commands.values())
        if isinstance(obj, click.Parameter) and "make_metavar" not in obj.__dict__:
            obj.make_metavar = _translated_metavar(obj)  # type: ignore[method-assign]


# The words of click's metavars (``[OPTIONS]``, ``CASE``, ``FILE|-``, ``INTEGER RANGE``), each a message.
_METAVAR_WORD = re.compile(r"[A-Z][A-Z_]*(?: RANGE)?")


def metavar_words(metavar: str) -> str:
    """A metavar in the current language, word by word: ``[OPTIONS]`` → ``[TILVALG]``, ``FIELD=FILE|-`` →
    ``FELT=FIL|-``; a word without a translation stays as it is."""
    from indsats.i18n import _

    return _METAVAR_WORD.sub(lambda m: _(m.group()), metavar)


def _translated_metavar(param: click.Parameter) -> Any:
    """``param.make_metavar`` that says click's metavar (its own, or the name upper-cased) in the current
    language, in usage lines, option lists and "Missing argument" errors alike."""
    make = type(param).make_metavar

    def make_metavar(ctx: click.Context) -> str:
        return metavar_words(make(param, ctx))

    return make_metavar


# Here rather than in indsats.logs, so that registering the options does not import logging for every command.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


def log_options(command: Any) -> Any:
    """``--log-level`` and ``--log-format`` for the long-running commands (``worker``, ``server``)."""
    command = click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None,
                           help="text or json (one object a line); else INDSATS_LOG_FORMAT, else text.")(command)
    return click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default=None,
                        help="Else INDSATS_LOG_LEVEL, else INFO.")(command)


def metrics_options(command: Any) -> Any:
    """``--metrics-port`` and ``--metrics-address`` for the long-running commands (``worker``, ``server``)."""
    command = click.option("--metrics-address", default="127.0.0.1", show_default=True, metavar="ADDRESS",
                           help="Where the metrics port listens.")(command)
    return click.option("--metrics-port", type=click.IntRange(1, 65535), metavar="PORT",
                        help="Serve Prometheus metrics on ADDRESS:PORT/metrics (else INDSATS_METRICS_PORT; "
                             "default: off).")(command)


def start_logging(obj: Obj, level: str | None, fmt: str | None) -> None:
    """Logging to stderr: the flag, else the setting (environment, config file), else INFO / text."""
    from indsats.logs import configure_logging

    configure_logging(level=(level or obj.settings.log_level).upper(), fmt=fmt or obj.settings.log_format)


# The help of each ``--NAME-file`` option (one message each, so that the catalogs carry them).
READ_FROM_FILE = {
    "subject": N_("Read the subject from FILE (- is stdin): out of ps and the shell history."),
    "note": N_("Read the note from FILE (- is stdin): out of ps and the shell history."),
    "reason": N_("Read the reason from FILE (- is stdin): out of ps and the shell history."),
}


def text_option(name: str, help: str, *, file_help: str | None = None, metavar: str = "TEXT") -> Any:
    """``--NAME TEXT`` and ``--NAME-file FILE|-`` (``-`` reads stdin): personal text kept out of argv, where
    ``ps`` shows it to every local user and the shell history keeps it. Read with ``text_from``."""

    def decorate(command: Any) -> Any:
        command = click.option(f"--{name}-file", f"{name.replace('-', '_')}_file", metavar="FILE|-",
                               help=file_help or READ_FROM_FILE[name])(command)
        return click.option(f"--{name}", name.replace("-", "_"), metavar=metavar, help=help)(command)

    return decorate


@overload
def text_from(value: str | None, file: str | None, option: str, *, required: Literal[True],
              value_name: str | None = None) -> str: ...
@overload
def text_from(value: str | None, file: str | None, option: str, *, required: bool = False,
              value_name: str | None = None) -> str | None: ...
def text_from(value: str | None, file: str | None, option: str, *, required: bool = False,
              value_name: str | None = None) -> str | None:
    """The text of ``--OPTION`` (or the argument ``value_name``) or of ``--OPTION-file`` (a file, or stdin for
    ``-``), surrounding whitespace stripped. Both given, or (``required``) neither: a usage error (exit 2); an
    empty file: ``Invalid`` (exit 5)."""
    given = value_name or f"--{option}"
    if value is not None and file is not None:
        raise click.UsageError(_("give {given} or --{option}-file, not both").format(given=given, option=option))
    if file is None:
        if value is None and required:
            raise click.UsageError(_("give --{option}-file FILE|- (or {given})").format(option=option,
                                                                                     given=metavar_words(given)))
        return value
    from indsats.commands.render import printable, read_input

    text = read_input(file, f"--{option}-file").strip()
    if not text:
        where = "stdin" if file == "-" else printable(file)
        raise Invalid(_("--{option}-file {where} is empty: nothing to record").format(option=option, where=where))
    return text


def json_option(command: Any) -> Any:
    """``--json``: the command's outcome as one JSON object on stdout (keys English and stable); an error as one
    JSON object on stderr (``{"error": …, "exit_code": N}``)."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the outcome as JSON (errors: one JSON object on stderr).")(command)


def output_option(help: str) -> Any:
    """``-o/--output FILE|-``: where a command writes its file (``-`` is stdout), the same on every command."""
    return click.option("--output", "-o", "output", metavar="FILE|-", help=help)


def one_output(given: str | None, output: str | None, argument: str) -> str:
    """The file to write: the argument ``argument`` (the older spelling) or ``-o/--output``; exactly one."""
    if given is not None and output is not None:
        raise click.UsageError(_("give {argument} or -o/--output, not both").format(argument=metavar_words(argument)))
    if given is None and output is None:
        raise click.UsageError(_("give -o/--output FILE|- (or {argument})").format(argument=metavar_words(argument)))
    return output if output is not None else str(given)
