"""The stack file an import writes: validated by the program's own parse_config first, with a
comment above each key naming the variable, file and line it came from."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.config import CONFIG_KEYS, parse_config, read_pulumi_config
from components.values import NAMESPACE, ConfigError
from tools.azimuth_config.errors import ToolError
from tools.azimuth_config.findings import Finding

# Pulumi's rule for stack names (letters, digits, -, _ and .), which name the file too.
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_PREFIX = f"{NAMESPACE}:"


def stack_path(project: Path, stack: str) -> Path:
    if not _STACK_NAME.match(stack):
        raise ToolError(f"--stack {stack!r}: a stack name is letters, digits, -, _ and .")
    stacks = project / "stacks"
    if not (project / "Pulumi.yaml").is_file() or not stacks.is_dir():
        raise ToolError(
            f"{project}: not this program's checkout (no Pulumi.yaml and stacks/); run from "
            "it or pass --project"
        )
    return stacks / f"Pulumi.{stack}.yaml"


def validate(settings: Mapping[str, Any], sources: Mapping[str, str]) -> list[str]:
    """Every problem parse_config finds, as ``pulumi up`` would read the file, each followed
    by the variable it came from."""
    ours = {k.removeprefix(_PREFIX): v for k, v in settings.items() if k.startswith(_PREFIX)}

    def get(key: str) -> str | None:
        # The Pulumi CLI hands strings over as they are and everything else as JSON.
        if key not in ours:
            return None
        value = ours[key]
        return value if isinstance(value, str) else json.dumps(value)

    try:
        parse_config(read_pulumi_config(get), configured=list(settings))
    except ConfigError as exc:
        return [_with_source(problem, sources) for problem in exc.problems]
    return []


def _with_source(problem: str, sources: Mapping[str, str]) -> str:
    key = re.split(r"[.\[:]", problem, maxsplit=1)[0]
    source = sources.get(f"{_PREFIX}{key}")
    return f"{problem} (from {source})" if source else problem


def render(
    settings: Mapping[str, Any],
    sources: Mapping[str, str],
    environment: Path,
    left_out: list[Finding],
) -> str:
    lines = [
        f"# Imported from the azimuth-config environment {environment}",
        "# by `python -m tools.azimuth_config import`; each key names the variable it came from.",
    ]
    if left_out:
        lines.append("# NOT imported (--partial), decide on each before `pulumi up`:")
        lines.extend(f"#   {finding}" for finding in left_out)
    # Pulumi reads an empty `config:` as null; an import that sets nothing says so.
    lines.append("config:" if settings else "config: {}")
    for key in _ordered(settings):
        lines.append(f"  # from {sources[key]}" if key in sources else "  #")
        text = yaml.safe_dump(
            {key: settings[key]}, default_flow_style=False, sort_keys=False, width=1000
        )
        lines.extend(f"  {line}" for line in text.splitlines())
    return "\n".join(lines) + "\n"


def _ordered(settings: Mapping[str, Any]) -> list[str]:
    order = ["openstack:cloud", *(f"{_PREFIX}{key}" for key in CONFIG_KEYS)]
    return sorted(settings, key=lambda k: order.index(k) if k in order else len(order))


def refuse_existing(path: Path, force: bool) -> None:
    """An operator's stack file (hand edits, Pulumi's encryptionsalt) is only replaced when
    asked for with --force."""
    if path.exists() and not force:
        raise ToolError(
            f"{path} already exists; pass --force to replace it (its stack's state is kept)"
        )


def write(path: Path, text: str, force: bool) -> None:
    refuse_existing(path, force)
    if path.exists():
        text = _kept_settings(path) + text
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _kept_settings(path: Path) -> str:
    """The replaced file's keys other than ``config``: ``encryptionsalt`` (or
    ``secretsprovider`` and ``encryptedkey``) are what decrypt the stack's secrets in its state,
    so a --force must not lose them."""
    try:
        old = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ToolError(f"{path}: cannot read the file --force would replace: {exc}") from None
    kept = {k: v for k, v in old.items() if k != "config"} if isinstance(old, dict) else {}
    if not kept:
        return ""
    return yaml.safe_dump(kept, default_flow_style=False, sort_keys=False, width=1000)
