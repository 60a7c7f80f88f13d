"""An azimuth-config environment's variables for the group ``all``, read the way Ansible reads
them, each with the file and line that gave it its value."""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.azimuth_config.errors import ToolError

# What Ansible accepts as a vars file inside group_vars/all/ (C.YAML_FILENAME_EXTENSIONS, and
# files with no extension at all).
_VARS_EXTENSIONS = ("", ".yml", ".yaml", ".json")

ValuePath = tuple[str | int, ...]
"""A place inside a variable's value: the keys and list indexes that lead to it."""


@dataclass(frozen=True)
class Definition:
    """One variable as the winning layer sets it."""

    name: str
    value: Any
    file: Path
    line: int
    lines: dict[ValuePath, int] = field(default_factory=dict)
    """Line of each nested value, so a problem deep inside (an image's URL) names its line."""

    def where(self, path: ValuePath = ()) -> str:
        for depth in range(len(path), 0, -1):
            if path[:depth] in self.lines:
                return f"{self.file}:{self.lines[path[:depth]]}"
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Vaulted:
    """A value encrypted with ansible-vault (``!vault``): it cannot be read without the key."""

    ciphertext: str


@dataclass(frozen=True)
class Unsafe:
    """A value tagged ``!unsafe``: Ansible never templates it, so it is taken literally."""

    text: str


@dataclass(frozen=True)
class Environment:
    root: Path
    layers: tuple[Path, ...]
    """The inventories, lowest precedence first."""
    variables: dict[str, Definition]
    files: tuple[Path, ...]


def read_environment(root: Path) -> Environment:
    if not root.is_dir():
        raise ToolError(f"{root}: no such environment directory")
    layers = inventory_layers(root)
    variables: dict[str, Definition] = {}
    files: list[Path] = []
    for layer in layers:
        for path in group_vars_files(layer):
            files.append(path)
            # Ansible's default hash_behaviour is replace: a later definition replaces the
            # whole value, nested maps included.
            variables.update({d.name: d for d in read_vars_file(path, _shown(path, root))})
    return Environment(root, layers, variables, tuple(files))


def inventory_layers(root: Path) -> tuple[Path, ...]:
    """The inventories of the environment's ansible.cfg (``[defaults] inventory``, comma
    separated, relative to the environment), or its ``inventory`` folder without one."""
    cfg = root / "ansible.cfg"
    entries = ["inventory"]
    if cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
        try:
            parser.read(cfg)
        except configparser.Error as exc:
            raise ToolError(f"{cfg}: cannot be read as an ini file: {exc}") from None
        text = parser.get("defaults", "inventory", fallback=None)
        if text:
            entries = [item.strip() for item in text.split(",") if item.strip()]
    layers = []
    for entry in entries:
        path = (root / Path(entry).expanduser()).resolve()
        if not path.exists():
            raise ToolError(f"{cfg if cfg.is_file() else root}: inventory {entry} does not exist")
        # An inventory given as a file (a hosts file) has its group_vars beside it.
        layers.append(path if path.is_dir() else path.parent)
    return tuple(layers)


def group_vars_files(inventory: Path) -> list[Path]:
    """Ansible's order (DataLoader.find_vars_files): the folder ``all/`` if there is one, its
    files sorted and recursively, else the first of ``all``, ``all.yml``, ``all.yaml``,
    ``all.json``."""
    base = inventory / "group_vars" / "all"
    if base.is_dir():
        return list(_dir_files(base))
    for ext in _VARS_EXTENSIONS:
        candidate = base.with_name(f"all{ext}")
        if candidate.is_file():
            return [candidate]
    return []


def _dir_files(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        if child.name.startswith(".") or child.name.endswith("~"):
            continue
        if child.is_dir() and not child.suffix:
            yield from _dir_files(child)
        elif child.is_file() and child.suffix in _VARS_EXTENSIONS:
            yield child


class _Loader(yaml.SafeLoader):
    """YAML as Ansible reads it, with its two tags."""


_Loader.add_constructor("!vault", lambda loader, node: Vaulted(loader.construct_scalar(node)))
_Loader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))


def _shown(path: Path, root: Path) -> Path:
    """The path as the operator knows it: from the environment's folder (``../base/…``)."""
    return Path(os.path.relpath(path, root.resolve()))


def read_vars_file(path: Path, shown: Path | None = None) -> list[Definition]:
    data = path.read_bytes()
    if data.startswith(b"$ANSIBLE_VAULT"):
        raise ToolError(f"{path}: encrypted with ansible-vault; decrypt it (or view it) first")
    if data.startswith(b"\x00GITCRYPT"):
        raise ToolError(f"{path}: encrypted with git-crypt; run `git-crypt unlock` first")
    try:
        loader = _Loader(data.decode())
        try:
            node = loader.get_single_node()
            if node is None:
                return []
            if not isinstance(node, yaml.MappingNode):
                raise ToolError(f"{path}: a vars file must be a map of variables")
            return [_definition(loader, shown or path, k, v) for k, v in node.value]
        finally:
            loader.dispose()
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ToolError(f"{path}: not valid YAML: {exc}") from None


def _definition(loader: _Loader, path: Path, key: yaml.Node, value: yaml.Node) -> Definition:
    lines: dict[ValuePath, int] = {(): key.start_mark.line + 1}
    _node_lines(value, (), lines)
    return Definition(
        name=str(loader.construct_object(key)),
        value=loader.construct_object(value, deep=True),
        file=path,
        line=key.start_mark.line + 1,
        lines=lines,
    )


def _node_lines(node: yaml.Node, path: ValuePath, lines: dict[ValuePath, int]) -> None:
    """The line of each entry inside ``node``: a map entry's is its key's line."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, str(key.value))] = key.start_mark.line + 1
            _node_lines(value, (*path, str(key.value)), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _node_lines(item, (*path, index), lines)
