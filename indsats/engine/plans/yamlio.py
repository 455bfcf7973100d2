"""Reading plan YAML safely: ``no``/``yes``/``on``/``off`` stay strings, and every value keeps its line.

YAML 1.1 (PyYAML's default) turns ``no`` into ``False``; a plan option called ``no`` or a
``--set police_report=no`` must not change type on the way in. Only ``true``/``false`` are booleans.
A key written twice in one mapping (a second ``assessed:``) is an error, not a silent replacement, and
aliases that would expand past ``MAX_VALUES`` values (a "billion laughs" file) are refused before
anything is built from them.
"""

from __future__ import annotations

from indsats.i18n import _
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


# A plan file holds a few hundred values; aliases may repeat a block, but never expand a file past this.
MAX_VALUES = 20_000


class PlanYamlError(ValueError):
    """YAML that parses but that a plan may not be: a key written twice, aliases expanding too far."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def load(text: str) -> Any:
    """Parse YAML text (lines are worked out only when something is wrong: see ``lines_of``).

    :raises yaml.YAMLError: not YAML. :raises PlanYamlError: a duplicate key, or aliases expanding too far.
    """
    loader = FastPlanLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_nodes(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def check_nodes(root: yaml.Node) -> None:
    """Refuse duplicate keys, and aliases whose expansion would exceed ``MAX_VALUES`` values, at once.

    An alias is the anchored node itself, reached again: the composed graph stays as small as the file,
    so sizes are counted over it (each node once, memoised) without expanding anything.
    """
    sizes: dict[int, int] = {}
    busy: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            busy.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_VALUES:
                raise PlanYamlError(
                    node.start_mark.line + 1,
                    _("YAML aliases expand to more than {n:,} values here; a plan never needs that many").format(n=MAX_VALUES),
                )
            continue
        if key in sizes:
            continue
        if key in busy:
            raise PlanYamlError(node.start_mark.line + 1, "a YAML alias refers to the block it is in")
        busy.add(key)
        if isinstance(node, yaml.MappingNode):
            _check_keys(node)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_keys(node: yaml.MappingNode) -> None:
    first: dict[str, int] = {}
    for key, _value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if key.value in first:
            raise PlanYamlError(line, _("'{key}' is written twice (first on line {first})").format(key=key.value, first=first[key.value]))
        first[key.value] = line


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
