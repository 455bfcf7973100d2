"""The Babel extractor for indsats' Python modules (``[tool.babel]`` in pyproject.toml): the ``_()``,
``ngettext()`` and ``N_()`` calls, as Babel's own Python extractor finds them, plus the click help texts,
which are not calls: ``help=`` of options and arguments, and the docstrings of commands and groups
(cleaned as click cleans them, so the id is what ``commands.base.translate_help`` looks up).

Used only to build the catalogs (``pybabel extract -F pyproject.toml``); indsats never imports it at run time.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

HELP_CALLS = frozenset({"option", "argument", "command", "group", "Option", "Argument", "text_option"})
HELP_KEYWORDS = ("help", "short_help", "epilog", "file_help")
# Calls whose positional arguments after the first are help texts (``text_option(name, help)``).
POSITIONAL_HELP = frozenset({"text_option"})


def extract(
    fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str], options: Any
) -> Iterator[tuple[Any, ...]]:
    """Babel's extraction method: yields ``(line, funcname, message, comments)``."""
    from babel.messages.extract import extract_python

    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    for line, text in help_texts(source.decode("utf-8")):
        yield line, "_", text, []


def help_texts(source: str) -> Iterator[tuple[int, str]]:
    """The click help texts of a module, each with its line."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in HELP_CALLS:
            if _name(node.func) in POSITIONAL_HELP:
                for arg in node.args[1:]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
                        yield arg.lineno, inspect.cleandoc(arg.value)
            for keyword in node.keywords:
                if keyword.arg in HELP_KEYWORDS and isinstance(keyword.value, ast.Constant):
                    if isinstance(keyword.value.value, str) and keyword.value.value.strip():
                        yield keyword.value.lineno, inspect.cleandoc(keyword.value.value)
        if isinstance(node, ast.FunctionDef) and any(_is_command(d) for d in node.decorator_list):
            doc = ast.get_docstring(node, clean=False)
            if doc and not any(_is_command(d) and _has_help(d) for d in node.decorator_list):
                yield node.lineno, inspect.cleandoc(doc)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_command(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return _name(target) in ("command", "group")


def _has_help(decorator: ast.expr) -> bool:
    return isinstance(decorator, ast.Call) and any(k.arg == "help" for k in decorator.keywords)
