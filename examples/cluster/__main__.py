"""A stack that boots Azimuth's images, taking their IDs from a community-images stack.

Config (namespace ``community-images-cluster``):
    imageStack         the image stack's full name: organization/community-images/<site> on a
                       file or other DIY backend, <org>/community-images/<site> on Pulumi Cloud
    kubernetesVersion  v1.34.2, 1.34.2 or 1.34: picks the kube_<major>_<minor> image
    verifyImage        default true: check with the openstack provider that the image is still
                       active and visible to this project (needs openstack:cloud)
"""

import sys
from pathlib import Path

# components/ is at the root of the community-images repository, two levels up. A copy of this
# example kept elsewhere puts a checkout of that repository on PYTHONPATH instead.
REPO_ROOT = str(Path(__file__).resolve().parents[2])
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import pulumi  # noqa: E402
import pulumi_openstack as openstack  # noqa: E402

from components.outputs import (  # noqa: E402
    CommunityImageOutputs,
    kubernetes_image_key,
    require_active,
)

config = pulumi.Config()
images = CommunityImageOutputs(config.require("imageStack"))
requested_version = config.require("kubernetesVersion")
key = kubernetes_image_key(requested_version)
machine_image_id = images.machine_image_id(requested_version)
machine_image = images.image(key)

if config.get_bool("verifyImage", True):
    # The data source has no ID filter, so list the active images of the summary's name and
    # visibility (community images of other projects are only listed when asked for) and look
    # for ours among them; several same-named images are then no error.
    active = openstack.images.get_image_ids_output(
        name=machine_image["name"], visibility=machine_image["visibility"]
    )
    machine_image_id = pulumi.Output.all(machine_image_id, active.ids).apply(
        lambda args: require_active(key, args[0], args[1])
    )

pulumi.export("machineImageId", machine_image_id)
# A cluster must run the version its image was built with, which can be a later patch release
# of the series than the one asked for; images given by ID (customImageIds) do not record one.
pulumi.export(
    "kubernetesVersion",
    machine_image["kubernetesVersion"].apply(lambda built: built or requested_version),
)
pulumi.export("applianceImageIds", images.appliance_image_ids())
