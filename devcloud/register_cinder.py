"""Registers Cinder in the devcloud's Keystone: its service user, and its API under both the
``block-storage`` service type and the older ``volumev3`` alias (clients and other services still
look up either); safe to re-run. Passwords come from the environment so they never show up in
``ps``.
"""

import argparse
import sys

from register import admin_connection, ensure_project, ensure_service, ensure_service_user


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--auth-url", required=True)
    parser.add_argument("--region", default="RegionOne")
    parser.add_argument("--volume-url", required=True, help="the v3 API's root, .../v3")
    args = parser.parse_args()
    conn = admin_connection(args.auth_url, args.region)
    # Keystone fills in the caller's project: the form every Cinder release understands.
    url = args.volume_url.rstrip("/") + "/$(project_id)s"
    try:
        service = ensure_project(conn, "service", "Service users")
        ensure_service_user(conn, service, "cinder")
        for kind, name in (("block-storage", "cinder"), ("volumev3", "cinderv3")):
            ensure_service(conn, args.region, kind, name, "OpenStack Block Storage", url)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
