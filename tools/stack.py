"""Runs a stack of this project with the real Pulumi CLI through the Automation API.

The Python language host (``pulumi-language-python``) and the openstack provider plugin are not
served by the Go module proxy this project can reach (see README), so ``pulumi up`` cannot start
``__main__.py`` by itself here. The Automation API can: it serves the program from this process
(``pulumi up --client``) with the project's own ``Pulumi.yaml`` and ``stacks/`` config, and the
CLI does everything else as usual.

    python -m tools.stack up dev
    python -m tools.stack preview dev --diff [--expect-no-changes]
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from pulumi import automation as auto

ROOT = Path(__file__).resolve().parent.parent

QUIET_OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
}


MISSING_PROVIDER = """
The openstack provider plugin is needed to create images and is not installed. It cannot be
built on this machine: the Go module proxy answers 403 Forbidden for every version of
github.com/pulumi/pulumi-openstack/provider/v5 (README, "What is blocked"). Where the binary
can be had, install it with
    pulumi plugin install resource openstack 5.5.3 --file <path to pulumi-resource-openstack>
and run this again; images already in Glance were reused without it."""


def pulumi_command() -> auto.PulumiCommand:
    """The CLI from tools/toolchain.sh (built once, cached), checked against the SDK's minimum."""
    root = (
        os.environ.get("PULUMI_TOOLCHAIN")
        or subprocess.run(
            ["bash", str(ROOT / "tools" / "toolchain.sh")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    return auto.PulumiCommand(root=root)


def run_main() -> None:
    runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def select_stack(
    stack: str, work_dir: Path = ROOT, env: Mapping[str, str] | None = None
) -> auto.Stack:
    env_vars = {**QUIET_OFFLINE_ENV, **(env or {})}
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), pulumi_command=pulumi_command(), env_vars=env_vars
    )
    return auto.create_or_select_stack(
        stack_name=stack, project_name="community-images", program=run_main, opts=opts
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.stack", description=__doc__)
    parser.add_argument("action", choices=("up", "preview", "destroy", "outputs"))
    parser.add_argument("stack")
    parser.add_argument("--diff", action="store_true", help="show property-level changes")
    parser.add_argument("--expect-no-changes", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("PULUMI_BACKEND_URL", f"file://{ROOT / '.pulumi-state'}")
    os.environ.setdefault("PULUMI_CONFIG_PASSPHRASE", "")
    if os.environ["PULUMI_BACKEND_URL"].startswith("file://"):
        Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://")).mkdir(exist_ok=True)
    stack = select_stack(args.stack)
    try:
        if args.action == "up":
            stack.up(on_output=print, diff=args.diff, color="never")
        elif args.action == "preview":
            stack.preview(
                on_output=print,
                diff=args.diff,
                expect_no_changes=args.expect_no_changes,
                color="never",
            )
        elif args.action == "destroy":
            stack.destroy(on_output=print, color="never")
        outputs = {k: v.value for k, v in stack.outputs().items()}
        print(json.dumps(outputs, indent=2, sort_keys=True))
    except auto.CommandError as exc:
        print(f"pulumi {args.action} of stack {args.stack} failed: {exc}", file=sys.stderr)
        if "no resource plugin 'pulumi-resource-openstack'" in str(exc):
            print(MISSING_PROVIDER, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
