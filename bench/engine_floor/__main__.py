"""The engine floor of community-images: exactly the resources it declares for N images, and
nothing else. Under one component, per image an ``openstack.images.Image`` adopting an image
that exists in Glance (``import_``, the inputs, ``ignore_changes`` and retain flag of
``components/records.py``) and a dynamic resource like ``ImageProperties`` that does nothing;
the stack exports the IDs. No Glance lookup, no openstacksdk, no download: what is left is
what the engine, the two providers and the language host cost for these resources.

Config (written by bench/deploy_bench.py): ``engine-floor:images``, a list of ``{name, id,
diskFormat, containerFormat, visibility}``; ``engine-floor:tag``; ``engine-floor:cloud``;
``engine-floor:retainOnDelete``; ``engine-floor:ignoreChanges`` (components.records'
IGNORED_IMAGE_INPUTS, passed by the bench so the two cannot drift apart).
"""

import pulumi
import pulumi_openstack as openstack
from noop_properties import NoopProperties

config = pulumi.Config("engine-floor")
images = config.require_object("images")
tag = config.require("tag")
cloud = config.get("cloud")
retain = config.require_bool("retainOnDelete")
ignored = config.require_object("ignoreChanges")

parent = pulumi.ComponentResource("engine-floor:index:Images", "engine-floor")
ids = {}
for item in images:
    image = openstack.images.Image(
        item["name"],
        name=item["name"],
        disk_format=item["diskFormat"],
        container_format=item["containerFormat"],
        visibility=item["visibility"],
        properties={},
        tags=[tag],
        min_disk_gb=None,
        min_ram_mb=None,
        opts=pulumi.ResourceOptions(
            parent=parent,
            ignore_changes=ignored,
            retain_on_delete=retain,
            import_=item["id"],
        ),
    )
    NoopProperties(
        item["name"],
        image_id=image.id,
        image_name=item["name"],
        cloud=cloud,
        properties={},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    ids[item["name"]] = image.id
parent.register_outputs({"imageIds": ids})
pulumi.export("imageIds", ids)
