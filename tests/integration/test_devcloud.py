"""The devcloud (``bash devcloud/devcloud.sh start``) behaves like the Glance we target.

These tests talk to the real Keystone + Glance; they fail, never skip, when it is not running.
"""

import functools
import hashlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openstack
import pytest
import requests
from openstack import exceptions
from openstack.connection import Connection
from openstack.image.v2.image import Image

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN, DEMO = "devcloud", "devcloud-demo"
PROPERTY = "community_images_test"

Connect = Callable[[str], Connection]


def connect(cloud: str) -> Connection:
    config = Path(os.environ["OS_CLIENT_CONFIG_FILE"])
    hint = "start it with `bash devcloud/devcloud.sh start`"
    if not config.is_file():
        pytest.fail(f"devcloud: {config} does not exist; {hint}", pytrace=False)
    try:
        conn = openstack.connect(cloud=cloud, api_timeout=60)
        conn.authorize()
        next(conn.image.images(limit=1), None)
    except Exception as exc:  # any failure here means "no devcloud", whatever its type
        pytest.fail(
            f"devcloud not reachable as cloud {cloud!r} ({config}): {exc}; {hint}", pytrace=False
        )
    return conn


@pytest.fixture(scope="module")
def clouds() -> Iterator[Connect]:
    """Connections made lazily in the test bodies, so a missing devcloud fails (not errors)."""
    conns: dict[str, Connection] = {}

    def get(cloud: str) -> Connection:
        if cloud not in conns:
            conns[cloud] = connect(cloud)
        return conns[cloud]

    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("OS_CLIENT_CONFIG_FILE"):
            mp.setenv("OS_CLIENT_CONFIG_FILE", str(REPO_ROOT / ".devcloud" / "clouds.yaml"))
        yield get
        for conn in conns.values():
            conn.close()


def unique_name(purpose: str) -> str:
    # Unique and never an existing path: create_image() uploads a file named like the image.
    return f"devcloud-test-{purpose}-{uuid.uuid4().hex[:12]}"


def make_qcow2(path: Path, mib: int) -> Path:
    """A real qcow2 holding `mib` MiB of random (incompressible) data."""
    raw = path.with_suffix(".raw")
    raw.write_bytes(os.urandom(mib << 20))
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True
    )
    raw.unlink()
    return path


def create_community_image(conn: Connection, name: str, **properties: str) -> Image:
    return conn.image.create_image(
        name,
        disk_format="qcow2",
        container_format="bare",
        visibility="community",
        allow_duplicates=True,
        **properties,
    )


def upload(conn: Connection, image: Image, path: Path) -> None:
    with path.open("rb") as data:
        # Image.upload() returns the response instead of raising on HTTP errors.
        exceptions.raise_from_response(image.upload(conn.image, data=data))


def delete_images(conn: Connection, image_ids: list[str]) -> None:
    for image_id in image_ids:
        conn.image.delete_image(image_id, ignore_missing=True)


def test_concurrent_uploads_become_active_with_sha512(clouds: Connect, tmp_path: Path) -> None:
    admin = clouds(ADMIN)
    disks = [make_qcow2(tmp_path / f"disk{i}.qcow2", 4) for i in range(2)]
    # One session per thread: a requests session is not meant to be shared across threads.
    conns = [connect(ADMIN) for _ in disks]
    images: list[Image] = []
    try:
        for conn in conns:
            images.append(create_community_image(conn, unique_name("upload")))
        both_ready = threading.Barrier(len(disks))

        def run(i: int) -> None:
            both_ready.wait(timeout=30)
            upload(conns[i], images[i], disks[i])

        with ThreadPoolExecutor(len(disks)) as pool:
            for done in [pool.submit(run, i) for i in range(len(disks))]:
                done.result()

        for image, disk in zip(images, disks, strict=True):
            data = disk.read_bytes()
            stored = admin.image.get_image(image.id)
            assert stored.status == "active"
            assert stored.visibility == "community"
            assert stored.size == len(data)
            assert stored.hash_algo == "sha512"  # Glance's os_hash_algo
            assert stored.hash_value == hashlib.sha512(data).hexdigest()
            assert stored.checksum == hashlib.md5(data).hexdigest()
    finally:
        delete_images(admin, [image.id for image in images])
        for conn in conns:
            conn.close()


def test_token_checks_arriving_together_right_after_a_keystone_restart_all_pass(
    clouds: Connect,
) -> None:
    """A fresh Keystone loads its policy rules at the first check; checks arriving together
    before that were refused (403), so a run started right after a restart failed at random.
    The restart now warms it with one check first."""
    admin = clouds(ADMIN)
    token = admin.auth_token
    url = admin.session.get_endpoint(service_type="identity").rstrip("/") + "/auth/tokens"
    subprocess.run(
        ["bash", str(REPO_ROOT / "devcloud" / "devcloud.sh"), "restart", "keystone"],
        check=True,
        capture_output=True,
    )
    together = 16
    all_ready = threading.Barrier(together)

    def check(_: int) -> int:
        with requests.Session() as session:
            all_ready.wait(timeout=30)
            headers = {"X-Auth-Token": token, "X-Subject-Token": token}
            return session.get(url, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(together) as pool:
        assert list(pool.map(check, range(together))) == [200] * together


def test_community_image_is_hidden_from_default_listing_of_other_projects(
    clouds: Connect, tmp_path: Path
) -> None:
    admin, demo = clouds(ADMIN), clouds(DEMO)
    name = unique_name("visibility")
    image = create_community_image(admin, name)
    try:
        upload(admin, image, make_qcow2(tmp_path / "small.qcow2", 1))
        assert image.id in {i.id for i in admin.image.images()}
        assert image.id not in {i.id for i in demo.image.images()}
        assert [i.id for i in demo.image.images(name=name, visibility="community")] == [image.id]
        # Name lookups go through the default listing, so they miss it too.
        assert demo.image.find_image(name) is None
        with pytest.raises(exceptions.ForbiddenException):
            demo.image.delete_image(image.id)
    finally:
        delete_images(admin, [image.id])


def test_custom_property_round_trips(clouds: Connect) -> None:
    admin, demo = clouds(ADMIN), clouds(DEMO)
    value = uuid.uuid4().hex
    image = create_community_image(admin, unique_name("property"), **{PROPERTY: value})
    try:
        assert admin.image.get_image(image.id).properties[PROPERTY] == value
        # Glance filters other projects' community images by a custom property too. The SDK's
        # images() drops query parameters it does not know, so the filter goes in a raw request
        # (through the SDK, the devcloud's other images would come back unfiltered).
        response = demo.image.get("/images", params={"visibility": "community", PROPERTY: value})
        exceptions.raise_from_response(response)
        assert [i["id"] for i in response.json()["images"]] == [image.id]
    finally:
        delete_images(admin, [image.id])


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Serves tmp_path over HTTP on a random loopback port: (directory, base URL)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield tmp_path, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()


def test_web_download_from_loopback_on_any_port(
    clouds: Connect, file_server: tuple[Path, str]
) -> None:
    admin = clouds(ADMIN)
    directory, base_url = file_server
    data = make_qcow2(directory / "served.qcow2", 1).read_bytes()
    image = create_community_image(admin, unique_name("web-download"))
    try:
        # Like Image.upload(), import_image() returns the response instead of raising.
        exceptions.raise_from_response(
            admin.image.import_image(image, method="web-download", uri=f"{base_url}/served.qcow2")
        )
        deadline = time.monotonic() + 30
        while (stored := admin.image.get_image(image.id)).status != "active":
            # A failed import goes back to "queued" and only says so in this property.
            assert not stored.properties.get("os_glance_failed_import"), stored.properties
            assert time.monotonic() < deadline, f"still {stored.status} after 30 s"
            time.sleep(0.2)
        assert stored.hash_value == hashlib.sha512(data).hexdigest()
    finally:
        delete_images(admin, [image.id])
