"""The two commands, as functions of their arguments (``__main__`` parses, these act)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tools.azimuth_config import export, stackfile
from tools.azimuth_config.errors import ToolError
from tools.azimuth_config.inventory import read_environment
from tools.azimuth_config.mapping import map_environment


@dataclass(frozen=True)
class ImportArgs:
    environment: Path
    stack: str
    project: Path
    force: bool = False
    partial: bool = False
    cloud: str | None = None


@dataclass(frozen=True)
class ExportArgs:
    stack: str
    project: Path
    output: Path | None = None
    show_secrets: bool = False
    kubernetes_templates: bool = True


def run_import(args: ImportArgs, err: TextIO | None = None) -> Path:
    """Writes the stack file and returns its path, or raises ToolError listing every problem
    (nothing is written then)."""
    err = err or sys.stderr
    target = stackfile.stack_path(args.project, args.stack)
    # Checked first, so an operator who would lose a file learns it before anything else.
    stackfile.refuse_existing(target, args.force)
    env = read_environment(args.environment)
    imported = map_environment(env, args.cloud)
    findings = imported.findings
    invalid = stackfile.validate(imported.settings, imported.sources)
    for note in findings.notes:
        print(f"note: {note}", file=err)
    blocking = [str(p) for p in findings.problems] if not args.partial else []
    if blocking or invalid:
        raise ToolError(_report(args, blocking, invalid))
    for problem in findings.problems:
        print(f"not imported: {problem}", file=err)
    text = stackfile.render(
        imported.settings, imported.sources, args.environment, findings.problems
    )
    stackfile.write(target, text, args.force)
    if "openstack:cloud" not in imported.settings:
        print(
            f"note: no openstack:cloud: set it with `pulumi config set openstack:cloud <cloud> "
            f"--stack {args.stack}` (or import with --cloud)",
            file=err,
        )
    return target


def _report(args: ImportArgs, blocking: list[str], invalid: list[str]) -> str:
    lines = [f"import of {args.environment} failed; nothing written:"]
    if blocking:
        lines.append(f"{len(blocking)} variables not imported (fix them, or --partial):")
        lines.extend(f"  - {item}" for item in blocking)
    if invalid:
        lines.append(f"the config they give is invalid ({len(invalid)} problems):")
        lines.extend(f"  - {item}" for item in invalid)
    return "\n".join(lines)


def run_export(args: ExportArgs, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    images = export.read_stack_images(args.stack, args.project, args.show_secrets)
    text = export.render_export(images, args.stack, args.kubernetes_templates)
    if args.output is None:
        out.write(text)
        return
    try:
        args.output.write_text(text)
    except OSError as exc:
        raise ToolError(f"--output {args.output}: {exc.strerror}") from None
