"""Click's own words that indsats' users read, marked here so that the catalogs carry them.

Click asks for them through the ``_`` and ``ngettext`` of its modules, which ``commands.base.translate_help``
points at ``indsats.i18n``; a word click says that is not here stays English. Never imported at run time.
"""

from __future__ import annotations

from indsats.i18n import N_, ngettext

WORDS = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Positional arguments"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("%(prog)s, version %(version)s"),
    N_("Try '{command} {option}' for help."),
    N_("Error: {message}"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing command."),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Aborted!"),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("required"),
    N_("{value!r} is not a valid {number_type}."),
    N_("integer"),  # the number types' names, in that message (``commands.base._click_words``)
    N_("integer range"),
    N_("float"),
    N_("float range"),
    N_("{value} is not in the range {range}."),
    N_("{name} {filename!r} does not exist."),
    N_("file"),
    N_("directory"),
    N_("path"),
)


def plurals(n: int) -> tuple[str, ...]:
    """Click's words with a plural form (only for the catalogs: ``pybabel extract`` finds them here)."""
    return (
        ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", n),
        ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", n),
        ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", n),
        ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", n),
        ngettext("{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}.", n),
    )


# The words of the metavars in usage lines and option lists (``commands.base.metavar_words`` says them word by
# word): click's own (``[OPTIONS]``, ``COMMAND [ARGS]...``, a type's name) and indsats' arguments and options.
METAVARS = (
    N_("OPTIONS"),
    N_("COMMAND"),
    N_("ARGS"),
    N_("TEXT"),
    N_("INTEGER"),
    N_("INTEGER RANGE"),
    N_("FLOAT"),
    N_("FILE"),
    N_("DIRECTORY"),
    N_("PATH"),
    N_("CASE"),
    N_("TRIGGER"),
    N_("FIELD"),
    N_("VALUE"),
    N_("LOGIN"),
    N_("ROLE"),
    N_("PLAN"),
    N_("DATE"),
    N_("TIME"),
    N_("DURATION"),
    N_("START"),
    N_("REF"),
    N_("NAME"),
    N_("SECONDS"),
    N_("DAYS"),
    N_("ADDRESS"),
    N_("HOST"),
    N_("PORT"),
    N_("URL"),
)
