"""Registers Nova, Placement and Neutron in the devcloud's Keystone (``identity``), or creates the
devcloud's flavor once Nova answers (``flavor``); safe to re-run. Passwords come from the
environment so they never show up in ``ps``.
"""

import argparse
import sys

from register import admin_connection, ensure_project, ensure_service, ensure_service_user

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
    conn = admin_connection(args.auth_url, args.region)
    try:
        if args.phase == "identity":
            service = ensure_project(conn, "service", "Service users")
            for name in ("nova", "placement", "neutron"):
                ensure_service_user(conn, service, name)
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
