"""Registers Cinder in the devcloud's Keystone: its service user, and its API under both the
``block-storage`` service type and the older ``volumev3`` alias (clients and other services still
look up either); safe to re-run. Passwords come from the environment so they never show up in
``ps``.
"""

import argparse
import os
import sys

import openstack
from register import ensure_project, ensure_service, ensure_user, grant


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--auth-url", required=True)
    parser.add_argument("--region", default="RegionOne")
    parser.add_argument("--volume-url", required=True, help="the v3 API's root, .../v3")
    args = parser.parse_args()
    env = os.environ
    conn = openstack.connect(
        auth_url=args.auth_url,
        username="admin",
        password=env["DEVCLOUD_ADMIN_PASSWORD"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=args.region,
        identity_api_version="3",
        load_yaml_config=False,
        load_envvars=False,
    )
    # Keystone fills in the caller's project: the form every Cinder release understands.
    url = args.volume_url.rstrip("/") + "/$(project_id)s"
    try:
        service = ensure_project(conn, "service", "Service users")
        user = ensure_user(conn, "cinder", env["DEVCLOUD_CINDER_PASSWORD"], service)
        grant(conn, service, user, "admin")
        grant(conn, service, user, "service")
        for kind, name in (("block-storage", "cinder"), ("volumev3", "cinderv3")):
            ensure_service(conn, args.region, kind, name, "OpenStack Block Storage", url)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
