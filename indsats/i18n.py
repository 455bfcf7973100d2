"""Messages in the reader's language: the standard library's gettext over the catalogs in ``indsats/locale``.

The message ids are the English texts; ``locale/da/LC_MESSAGES/indsats.po`` says them in Danish, and
``locale/en`` keeps English (its messages are their own ids). The ``.mo`` files beside them are compiled
from the ``.po`` files with Babel and committed; ``tests/test_i18n.py`` fails when one is stale or when the
code holds a message a catalog lacks. Importing this module loads nothing: the catalog of a language is
read the first time a message is asked for in it.

>>> use("en"); _("overdue")
'overdue'

The language is the installation's ``language`` setting (``INDSATS_LANGUAGE``, or ``language = "da"`` in
the config file), Danish by default, as the shipped plans are. The command line sets it at its start, the
server from its settings; a message is translated when it is rendered, in the language of the process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gettext import NullTranslations

LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"  # the language of the shipped plans and of the people who use them
DOMAIN = "indsats"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_language: str | None = None
_catalogs: dict[str, NullTranslations] = {}


def configured_language(env: Mapping[str, str] | None = None) -> str:
    """The language asked for before (or without) the settings: ``INDSATS_LANGUAGE``, else the config
    file's ``language``, else Danish. A value that is not a known language is left to the settings to
    refuse; here it falls back to the default."""
    environ = os.environ if env is None else env
    asked = environ.get("INDSATS_LANGUAGE", "").strip().lower()
    if not asked:
        asked = _from_config_file(environ)
    return asked if asked in LANGUAGES else DEFAULT_LANGUAGE


def _from_config_file(environ: Mapping[str, str]) -> str:
    from indsats.errors import BadConfig
    from indsats.locations import config_path_from

    try:
        path = config_path_from(environ)
    except BadConfig:
        return ""  # the settings, when loaded, say what is wrong with the file
    if path is None:
        return ""  # no file: no TOML parser to import (a thin client's start)
    import tomllib

    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("language")
    except (BadConfig, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ""  # the settings, when loaded, say what is wrong with the file
    return str(value).strip().lower() if value else ""


def use(language: str | None) -> None:
    """Speak ``language`` from now on in this process; None: find it again from the environment and config."""
    global _language
    if language is not None and language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
    _language = language


def language() -> str:
    """The language messages are rendered in now."""
    global _language
    if _language is None:
        _language = configured_language()
    return _language


def _catalog() -> NullTranslations:
    lang = language()
    found = _catalogs.get(lang)
    if found is None:
        import gettext

        found = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)
        _catalogs[lang] = found
    return found


def _(message: str) -> str:
    """``message`` (its English text, the message id) in the current language."""
    return _catalog().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return _catalog().ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 (the name gettext's tools look for)
    """Mark ``message`` for the catalogs where it is defined; translate it with ``_`` where it is shown."""
    return message
