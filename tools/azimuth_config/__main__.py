"""``python -m tools.azimuth_config import|export``: argument parsing only (commands.py acts).
Every error ends in one message and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.azimuth_config.commands import ExportArgs, ImportArgs, run_export, run_import
from tools.azimuth_config.errors import ToolError


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m tools.azimuth_config",
        description="Move an azimuth-config environment's community images to this program.",
    )
    sub = main.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="write stacks/Pulumi.<site>.yaml from an environment")
    imp.add_argument("environment", type=Path, help="the environment's folder (ansible.cfg)")
    imp.add_argument("--stack", required=True, help="the site's stack name")
    imp.add_argument("--project", type=Path, default=Path.cwd(), help="this program's folder")
    imp.add_argument("--cloud", help="openstack:cloud, the site's entry in clouds.yaml")
    imp.add_argument("--force", action="store_true", help="replace an existing stack file")
    imp.add_argument(
        "--partial",
        action="store_true",
        help="write what could be imported, listing the rest in the file",
    )
    exp = sub.add_parser("export", help="print the stack's image IDs as environment variables")
    exp.add_argument("--stack", required=True, help="the site's stack name")
    exp.add_argument("--project", type=Path, default=Path.cwd(), help="this program's folder")
    exp.add_argument("--output", type=Path, help="write to this file instead of stdout")
    exp.add_argument("--show-secrets", action="store_true", help="for a stack with secret IDs")
    exp.add_argument(
        "--no-kubernetes-templates",
        dest="kubernetes_templates",
        action="store_false",
        help="leave azimuth_capi_operator_cluster_templates_default to azimuth-ops",
    )
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "import":
            path = run_import(
                ImportArgs(
                    args.environment, args.stack, args.project, args.force, args.partial, args.cloud
                )
            )
            print(f"wrote {path}")
        else:
            run_export(
                ExportArgs(
                    args.stack,
                    args.project,
                    args.output,
                    args.show_secrets,
                    args.kubernetes_templates,
                )
            )
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # An unreadable environment file, a stacks/ folder without write permission.
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
