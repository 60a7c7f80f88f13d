"""Registers Nova, Placement and Neutron in the devcloud's Keystone (``identity``), or creates the
devcloud's flavor once Nova answers (``flavor``); safe to re-run. Passwords come from the
environment so they never show up in ``ps``.
"""

import argparse
import os
import sys

import openstack
from register import ensure_project, ensure_service, ensure_user, grant

FLAVOR = {"name": "devcloud.tiny", "vcpus": 1, "ram": 128, "disk": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("phase", choices=("identity", "flavor"))
    parser.add_argument("--auth-url", required=True)
    parser.add_argument("--region", default="RegionOne")
    parser.add_argument("--compute-url", required=True)
    parser.add_argument("--placement-url", required=True)
    parser.add_argument("--network-url", required=True)
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
    try:
        if args.phase == "identity":
            service = ensure_project(conn, "service", "Service users")
            for name in ("nova", "placement", "neutron"):
                user = ensure_user(conn, name, env[f"DEVCLOUD_{name.upper()}_PASSWORD"], service)
                grant(conn, service, user, "admin")
                grant(conn, service, user, "service")
            for kind, name, description, url in (
                ("compute", "nova", "OpenStack Compute", args.compute_url),
                ("placement", "placement", "Placement API", args.placement_url),
                ("network", "neutron", "OpenStack Networking", args.network_url),
            ):
                ensure_service(conn, args.region, kind, name, description, url)
        elif next(conn.compute.flavors(name=FLAVOR["name"]), None) is None:
            conn.compute.create_flavor(**FLAVOR, is_public=True)
            print(f"created flavor {FLAVOR['name']}")
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
