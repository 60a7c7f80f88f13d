"""Exits 0 once Cinder's scheduler knows the named volume backend's pools, 1 otherwise.

The scheduler learns a backend's capabilities only from what cinder-volume publishes to it over
RPC. Both announce themselves once at start, and whichever does so before the other consumes its
queue is not heard; after ``scheduler_driver_init_wait_time`` (60 s) the scheduler then places
volumes without them, and every create fails with "No valid backend". The pools the admin API
lists come from the scheduler's own table, so they say what a create would find. Called in a
polling loop; the admin password comes from the environment (DEVCLOUD_ADMIN_PASSWORD).
"""

import argparse
import sys

from openstack import exceptions
from register import admin_connection


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--auth-url", required=True)
    parser.add_argument("--region", default="RegionOne")
    parser.add_argument("--backend", required=True, help="host@backend, as the scheduler names it")
    args = parser.parse_args()
    conn = admin_connection(args.auth_url, args.region)
    try:
        pools = [pool.name for pool in conn.block_storage.backend_pools()]
    except exceptions.SDKException:
        return 1
    finally:
        conn.close()
    return 0 if any(name.startswith(f"{args.backend}#") for name in pools) else 1


if __name__ == "__main__":
    sys.exit(main())
