"""Rendering for the command line: tables for people, TSV for pipes, CSV for spreadsheets, JSON for scripts.

- A table on a terminal is a rich table; when it does not fit the terminal's width it is printed as one block
  of ``column: value`` lines per row, so nothing is folded in the middle of an id.
- When stdout is not a terminal the same table is TSV: a header row, one line per row, never folded, so
  ``indsats cases | grep -c RAD-2026-0001`` and ``cut -f1`` work.
- User text (notes, names, references) never reaches a terminal raw: control characters are shown escaped
  (``\\x1b``, ``\\n``), and TSV escapes tab, newline and backslash. CSV cells that a spreadsheet would run as a
  formula (``=``, ``+``, ``-``, ``@``, tab, CR first) get a leading apostrophe.
- ``-`` as a file name means stdin or stdout (``read_input``, ``write_output``).
Times are shown in Europe/Copenhagen.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from indsats.engine.time.clock import to_local
from indsats.errors import Invalid
from indsats.wire import plain
from indsats.i18n import _

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TSV_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def local(value: datetime | None) -> str:
    return "" if value is None else to_local(value).strftime("%Y-%m-%d %H:%M")


# -- text that came from people ---------------------------------------------------------------------


def printable(text: str) -> str:
    """``text`` with every control or format character escaped, so a note cannot move the cursor or recolour
    a terminal; newline and tab included (one cell, one line)."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def tsv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return printable("".join(_TSV_ESCAPES.get(c, c) for c in text))


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: one starting with a formula character gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


# -- JSON ---------------------------------------------------------------------------------------------


def echo_json(value: Any) -> None:
    click.echo(json.dumps(plain(value), ensure_ascii=False, indent=2))


def echo_json_items(items: Iterable[Any]) -> None:
    """A JSON array written one item at a time, as ``echo_json(list(items))`` would print it, without the list."""
    first = True
    for item in items:
        text = json.dumps(plain(item), ensure_ascii=False, indent=2).replace("\n", "\n  ")
        click.echo(("[\n  " if first else ",\n  ") + text, nl=False)
        first = False
    click.echo("[]" if first else "\n]")


# -- tables -------------------------------------------------------------------------------------------


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table: rich on a terminal (blocks of lines when too wide), TSV with a header row otherwise (written
    row by row as ``rows`` come: a long list is never held)."""
    if not stdout_is_terminal():
        click.echo("\t".join(tsv_cell(c) for c in columns))
        for row in rows:
            click.echo("\t".join(tsv_cell(v) for v in row))
        return
    cells = [["" if v is None else printable(str(v)) for v in row] for row in rows]
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(soft_wrap=False, highlight=False)
    t = Table(title=None if title is None else escape(title), show_lines=False, header_style="bold")
    for column in columns:
        t.add_column(escape(column), no_wrap=True)
    for row in cells:
        t.add_row(*(escape(v) for v in row))
    from rich.cells import cell_len

    widths = [max([cell_len(c)] + [cell_len(row[i]) for row in cells if i < len(row)]) for i, c in enumerate(columns)]
    if sum(widths) + 3 * len(widths) + 1 <= console.width:
        console.print(t)
        return
    _blocks(console, title, list(columns), cells)


def _blocks(console: Any, title: str | None, columns: list[str], cells: list[list[str]]) -> None:
    """A table too wide for the terminal: each row as lines of ``column: value``, rows apart by a blank line."""
    from rich.markup import escape
    from rich.text import Text

    if title:
        console.print(Text(title, style="bold"))
    width = max((len(c) for c in columns), default=0)
    for i, row in enumerate(cells):
        if i or title:
            console.print()
        for column, value in zip(columns, row, strict=False):
            if value:
                console.print(f"[bold]{escape(column.ljust(width))}[/bold]  {escape(value)}", overflow="fold",
                              soft_wrap=False)


def csv_out(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """CSV with a header row on stdout, every cell neutralised against formula injection; written in chunks of
    rows as they come, so a long list is never held."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    for n, row in enumerate(rows, 1):
        writer.writerow([csv_cell(v) for v in row])
        if n % 500 == 0:
            click.echo(buffer.getvalue(), nl=False)
            buffer.seek(0)
            buffer.truncate()
    click.echo(buffer.getvalue(), nl=False)


# -- files: '-' is stdin/stdout ---------------------------------------------------------------------------


def read_input(path: str, what: str = "file") -> str:
    """The text of ``path`` (UTF-8), or of stdin for ``-``; ``Invalid`` when it cannot be read or is not text."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        from indsats.adapters.files import os_reason

        raise Invalid(_("cannot read the {what} {printable}: {strerror}").format(
            what=_(what), printable=printable(path), strerror=os_reason(exc))) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(_("the {what} {printable} is not UTF-8 text").format(what=_(what), printable=printable(path))) from None


def folder_of(output: str) -> Path:
    """``output`` as a path whose folder exists; ``Invalid`` (exit 5) when it does not (``-`` is stdout)."""
    target = Path(output)
    if output != "-" and not target.parent.is_dir():
        raise Invalid(_("cannot write {printable}: the folder {printable2} does not exist").format(printable=printable(output), printable2=printable(str(target.parent))))
    return target


def write_output(text: str | bytes, output: str | None) -> bool:
    """Write ``text`` to ``output`` (a file, owner-only), or to stdout for ``None`` or ``-``.
    Returns True when a file was written (the caller may say so on stderr)."""
    if output is None or output == "-":
        if isinstance(text, bytes):
            stream = sys.stdout.buffer
            stream.write(text)
            stream.flush()
        else:
            click.echo(text, nl=False)
        return False
    target = folder_of(output)
    try:
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        from indsats.adapters.files import os_reason

        raise Invalid(_("cannot write {printable}: {strerror}").format(printable=printable(output),
                                                                     strerror=os_reason(exc))) from None
    return True
