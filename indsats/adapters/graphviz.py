"""Graphviz: draws a plan's DOT text as SVG with the ``dot`` program."""

from __future__ import annotations

import shutil
import subprocess

from indsats.i18n import _
from indsats.errors import Invalid


def svg(dot_text: str) -> str:
    """SVG from DOT text; ``Invalid`` when Graphviz is missing or fails."""
    program = shutil.which("dot")
    if program is None:
        raise Invalid(_("svg needs Graphviz's 'dot' program: apt-get install graphviz (or use --format dot|mermaid)"))
    try:
        done = subprocess.run(
            [program, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Invalid(_("Graphviz's 'dot' failed: {error}").format(error=exc)) from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise Invalid(_("Graphviz's 'dot' failed (exit {returncode}): {first}").format(returncode=done.returncode, first=first))
    return done.stdout
