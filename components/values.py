"""Checks of raw config values that collect every problem with its config path, instead of
stopping at the first: an operator fixes a site's config in one round."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.errors import CommunityImagesError

NAMESPACE = "community-images"


class ConfigError(CommunityImagesError):
    """All problems found in the configuration, each prefixed with its config path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid {NAMESPACE} configuration ({len(problems)} problems):\n{lines}")


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def string(
    value: Mapping[str, Any],
    key: str,
    problems: Problems,
    path: str = "",
    required: bool = False,
) -> str | None:
    full = f"{path}.{key}" if path else key
    item = value.get(key)
    if item is None or item == "":
        if required:
            problems.add(full, "is required")
        return None
    if not isinstance(item, str):
        problems.add(full, f"must be a string, got {kind(item)}")
        return None
    return item


def choice(
    value: Mapping[str, Any],
    key: str,
    choices: tuple[str, ...],
    default: str | None,
    problems: Problems,
    path: str = "",
) -> str | None:
    item = string(value, key, problems, path)
    if item is None:
        return default
    if item not in choices:
        full = f"{path}.{key}" if path else key
        problems.add(full, f"must be one of {', '.join(choices)}, got {item!r}")
        return default
    return item


def boolean(value: Mapping[str, Any], key: str, default: bool, problems: Problems) -> bool:
    item = value.get(key, default)
    if isinstance(item, bool):
        return item
    problems.add(key, f"must be true or false, got {item!r}")
    return default


def integer(
    value: Mapping[str, Any],
    key: str,
    default: int | None,
    problems: Problems,
    path: str = "",
    minimum: int = 0,
) -> int | None:
    item = value.get(key, default)
    if item is None:
        return None
    if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
        full = f"{path}.{key}" if path else key
        problems.add(full, f"must be a whole number of at least {minimum}, got {item!r}")
        return default
    return item


def kind(value: Any) -> str:
    return type(value).__name__


def project_ids(value: Any, path: str, problems: Problems) -> frozenset[str]:
    """Keystone project IDs (not names: a name can be taken by anyone in another domain)."""
    if not isinstance(value, list):
        problems.add(path, f"must be a list of project IDs, got {kind(value)}")
        return frozenset()
    ids = set()
    for index, item in enumerate(value):
        if not isinstance(item, str) or not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", item):
            problems.add(f"{path}[{index}]", f"must be a Keystone project ID, got {item!r}")
        else:
            ids.add(item)
    return frozenset(ids)
