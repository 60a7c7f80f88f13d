"""Registers Glance and a demo tenant in the devcloud's Keystone; safe to re-run.

One openstacksdk process instead of a dozen ``openstack`` CLI calls (each pays ~2.5 s of imports).
Lookups list by name rather than ``find_*()``, which first tries the name as an ID: half the
requests. Passwords come from the environment so they never show up in ``ps``.
"""

import argparse
import os
import sys

import openstack
from openstack.connection import Connection
from openstack.identity.v3.project import Project
from openstack.identity.v3.user import User

DOMAIN_ID = "default"  # the domain keystone-manage bootstrap creates
INTERFACES = ("public", "internal", "admin")


def ensure_project(conn: Connection, name: str, description: str) -> Project:
    project = next(conn.identity.projects(name=name, domain_id=DOMAIN_ID), None)
    if project is None:
        project = conn.identity.create_project(
            name=name, domain_id=DOMAIN_ID, description=description
        )
        print(f"created project {name}")
    return project


def ensure_user(conn: Connection, name: str, password: str, project: Project) -> User:
    user = next(conn.identity.users(name=name, domain_id=DOMAIN_ID), None)
    if user is None:
        # The password is only set on creation: changing it would revoke the tokens that running
        # services (Glance's auth middleware) already hold.
        user = conn.identity.create_user(
            name=name, password=password, domain_id=DOMAIN_ID, default_project_id=project.id
        )
        print(f"created user {name}")
    return user


def grant(conn: Connection, project: Project, user: User, role_name: str) -> None:
    role = next(conn.identity.roles(name=role_name))
    # A PUT in Keystone: granting an existing assignment again is a no-op.
    conn.identity.assign_project_role_to_user(project, user, role)


def admin_connection(auth_url: str, region: str) -> Connection:
    """The bootstrap admin, from the environment's password alone: no clouds.yaml and no OS_*
    variables, which a caller's OS_CLOUD or a ./clouds.yaml would otherwise merge in."""
    return openstack.connect(
        auth_url=auth_url,
        username="admin",
        password=os.environ["DEVCLOUD_ADMIN_PASSWORD"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=region,
        identity_api_version="3",
        load_yaml_config=False,
        load_envvars=False,
    )


def ensure_service_user(conn: Connection, service_project: Project, name: str) -> None:
    """A service's Keystone user (password ``DEVCLOUD_<NAME>_PASSWORD``), admin and service in
    the ``service`` project, as services validate tokens and call each other with it."""
    user = ensure_user(conn, name, os.environ[f"DEVCLOUD_{name.upper()}_PASSWORD"], service_project)
    grant(conn, service_project, user, "admin")
    grant(conn, service_project, user, "service")


def ensure_service(
    conn: Connection, region: str, kind: str, name: str, description: str, url: str
) -> None:
    service = next(conn.identity.services(type=kind), None)
    if service is None:
        service = conn.identity.create_service(name=name, type=kind, description=description)
        print(f"created {kind} service")
    for interface in INTERFACES:
        endpoints = list(
            conn.identity.endpoints(service_id=service.id, interface=interface, region_id=region)
        )
        if not endpoints:
            conn.identity.create_endpoint(
                service_id=service.id, interface=interface, url=url, region_id=region
            )
            print(f"created {interface} {kind} endpoint {url}")
        elif endpoints[0].url != url:
            conn.identity.update_endpoint(endpoints[0], url=url)
            print(f"moved {interface} {kind} endpoint to {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--auth-url", required=True)
    parser.add_argument("--glance-url", required=True)
    parser.add_argument("--region", default="RegionOne")
    args = parser.parse_args()
    env = os.environ
    conn = admin_connection(args.auth_url, args.region)
    try:
        service = ensure_project(conn, "service", "Service users")
        ensure_service_user(conn, service, "glance")
        ensure_service(conn, args.region, "image", "glance", "OpenStack Image", args.glance_url)
        demo = ensure_project(conn, "demo", "Unprivileged project for visibility tests")
        demo_user = ensure_user(conn, "demo", env["DEVCLOUD_DEMO_PASSWORD"], demo)
        grant(conn, demo, demo_user, "member")
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
