"""Jinja in variable values: the simplest kind (``"{{ some_var }}"``, ``"{{ a.b }}/x"``) is
resolved from the environment's own variables; anything else is left for the operator, as
guessing what a filter or lookup gives would write a config Ansible never had."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.azimuth_config.inventory import Unsafe, Vaulted

_MARKERS = ("{{", "{%", "{#")
# One expression that is only a (dotted) variable name, with optional whitespace control.
_SIMPLE = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*-?\}\}")


class Unresolved(Exception):
    """A value this tool cannot work out; ``str()`` says why, as the end of a sentence about
    the variable ("… is a Jinja expression …")."""


@dataclass(frozen=True)
class Lookup:
    """The variables ``{{ name }}`` may refer to: the environment's over the role's defaults."""

    values: Mapping[str, Any]


def is_template(value: Any) -> bool:
    return isinstance(value, str) and any(marker in value for marker in _MARKERS)


def resolve(value: Any, lookup: Lookup, seen: tuple[str, ...] = ()) -> Any:
    """``value`` with every template in it resolved, nested maps and lists included; raises
    Unresolved for a template that is not a plain variable reference. ``seen``: the names
    being resolved, to stop at a loop."""
    if isinstance(value, Unsafe):
        return value.text
    if isinstance(value, Vaulted):
        raise Unresolved("is encrypted with ansible-vault (!vault)")
    if isinstance(value, dict):
        return {key: resolve(item, lookup, seen) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, lookup, seen) for item in value]
    if not is_template(value):
        return value
    whole = _SIMPLE.fullmatch(value.strip())
    if whole:
        # A value that is one expression gives the referenced value itself (a map stays a
        # map), as Ansible's templating does.
        return _referred(whole.group(1), lookup, seen)
    text = _SIMPLE.sub(lambda m: _as_text(m.group(1), lookup, seen), value)
    if is_template(text):
        raise Unresolved(f"is a Jinja expression this tool cannot resolve: {value.strip()!r}")
    return text


def _referred(name: str, lookup: Lookup, seen: tuple[str, ...]) -> Any:
    first = name.split(".")[0]
    if first in seen:
        raise Unresolved(f"refers to itself ({' -> '.join((*seen, first))})")
    value = _dotted(name, lookup)
    try:
        return resolve(value, lookup, (*seen, first))
    except Unresolved as exc:
        if str(exc).startswith("refers to itself"):
            raise
        raise Unresolved(f"refers to {name}, which {exc}") from None


def _as_text(name: str, lookup: Lookup, seen: tuple[str, ...]) -> str:
    item = _referred(name, lookup, seen)
    if isinstance(item, dict | list):
        raise Unresolved(f"puts the map or list {name} into a string")
    if isinstance(item, bool):
        return str(item)
    return "" if item is None else str(item)


def _dotted(name: str, lookup: Lookup) -> Any:
    first, *rest = name.split(".")
    if first not in lookup.values:
        raise Unresolved(f"refers to {first}, which the environment does not define")
    item = lookup.values[first]
    for part in rest:
        if not isinstance(item, dict) or part not in item:
            raise Unresolved(f"refers to {name}, which the environment does not define")
        item = item[part]
    return item
