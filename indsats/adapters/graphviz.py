"""Graphviz: draws a plan's DOT text as SVG with the ``dot`` program."""

from __future__ import annotations

import shutil
import subprocess

from indsats.errors import Invalid


def svg(dot_text: str) -> str:
    """SVG from DOT text; ``Invalid`` when Graphviz is missing or fails."""
    program = shutil.which("dot")
    if program is None:
        raise Invalid("svg needs Graphviz's 'dot' program: apt-get install graphviz (or use --format dot|mermaid)")
    try:
        done = subprocess.run(
            [program, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Invalid(f"Graphviz's 'dot' failed: {exc}") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise Invalid(f"Graphviz's 'dot' failed (exit {done.returncode}): {first}")
    return done.stdout
