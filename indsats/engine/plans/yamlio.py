"""Reading plan YAML safely: ``no``/``yes``/``on``/``off`` stay strings, and every value keeps its line.

YAML 1.1 (PyYAML's default) turns ``no`` into ``False``; a plan option called ``no`` or a
``--set police_report=no`` must not change type on the way in. Only ``true``/``false`` are booleans.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class PlanLoader(yaml.SafeLoader):
    """A safe loader whose booleans are only true/false."""


# The same rules over libyaml's C parser when PyYAML has it: a plan loads several times faster.
FastPlanLoader: Any = type("FastPlanLoader", (getattr(yaml, "CSafeLoader", yaml.SafeLoader),), {})

_loader: Any
for _loader in (PlanLoader, FastPlanLoader):
    _loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )


def load(text: str) -> Any:
    """Parse YAML text (lines are worked out only when something is wrong: see ``lines_of``)."""
    return yaml.load(text, Loader=FastPlanLoader)  # noqa: S506 - a safe loader with plain-string booleans


def lines_of(text: str) -> dict[tuple[str | int, ...], int]:
    """A map from each value's path in the YAML text to its 1-based line."""
    node = yaml.compose(text, Loader=PlanLoader)
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(n: yaml.Node | None, path: tuple[str | int, ...]) -> None:
        if n is None:
            return
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                child = (*path, str(key.value))
                lines[child] = key.start_mark.line + 1
                walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                walk(item, (*path, index))

    walk(node, ())
    return lines


def line_of(lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    """The line of the deepest known prefix of ``loc`` (pydantic locations may go past the YAML)."""
    for end in range(len(loc), -1, -1):
        key = tuple(loc[:end])
        if key in lines:
            return lines[key]
    return None
