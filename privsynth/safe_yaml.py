"""Reading a threat model's YAML without surprises: no aliases, no duplicate keys, bounded depth and size.

PyYAML's safe loader still expands aliases (a 300-byte "billion laughs" document becomes a mapping of tens of
millions of entries, and formatting it into an error message hangs the run), lets a duplicate key silently
override the first, and recurses without bound (a RecursionError traceback). A threat model needs none of
it: it is a small tree of mappings, lists and scalars written by a person, so anchors and aliases are refused
as soon as the parser meets them (before anything is expanded), a duplicate key is an error naming both
lines, and nesting deeper than ``MAX_DEPTH`` or a text larger than ``MAX_BYTES`` is refused before anything
is built. Messages quote at most ``QUOTE_CHARS`` characters of what the user wrote.
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

MAX_DEPTH = 32
MAX_BYTES = 1_000_000
QUOTE_CHARS = 60


class UnsafeYAML(ValueError):
    """The document uses a YAML feature a threat model must not (the message names it and the line)."""


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters: user values go into messages only this way."""
    text = repr(value) if not isinstance(value, (dict, list)) else f"<{type(value).__name__} of {len(value)}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise UnsafeYAML(f"line {event.start_mark.line + 1}: YAML anchors and aliases (&name, *name) are not "
                             "allowed in a threat model; write the values out")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise UnsafeYAML(f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep; a threat "
                             "model is a shallow tree of sections")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class refuses it with its own message
                continue
            if first is not None:
                raise UnsafeYAML(f"line {line}: duplicate key {quote(key)} (first at line {first}); keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _NoAliasDumper(yaml.SafeDumper):
    """PyYAML writes ``&id001`` / ``*id001`` when one object appears twice in a document; ``load`` refuses
    those, so what privsynth writes never uses them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(document: Any, **options: Any) -> str:
    """YAML text of ``document`` that ``load`` reads back (no anchors or aliases)."""
    return yaml.dump(document, Dumper=_NoAliasDumper, **options)


def load(text: str) -> Any:
    """Parse a threat model's text (or a ``--set`` value); raises UnsafeYAML for refused features and
    yaml.YAMLError for bad syntax."""
    if len(text) > MAX_BYTES:
        raise UnsafeYAML(f"larger than {MAX_BYTES // 1_000_000} MB; a threat model is a few kB")
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
