"""components.glance_image: an image as read from Glance's JSON."""

from __future__ import annotations

from components.glance_image import image_from_json


def test_the_properties_that_boot_another_kernel_are_read_from_the_listing() -> None:
    record = {
        "id": "i",
        "name": "kube",
        "kernel_id": "k",
        "os_command_line": "init=/bin/sh",
        "ramdisk_id": "",
        "hw_disk_bus": "scsi",
    }
    assert image_from_json(record).boot_overrides == ("kernel_id", "os_command_line")
    assert image_from_json({"id": "j"}).boot_overrides == ()
