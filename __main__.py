"""community-images: read the site's config, make its images exist in Glance, export their IDs."""

from components.errors import stop_quietly_when_interrupted
from components.warm_providers import warm_providers

stop_quietly_when_interrupted()
# Before the imports below (openstacksdk's take a while): the providers start meanwhile.
warm_providers()

import pulumi

from components.catalog import build_catalog
from components.component import CommunityImages
from components.config import NAMESPACE, parse_config, read_pulumi_config, secret_config_keys
from components.glance import Glance

raw = read_pulumi_config(pulumi.Config(NAMESPACE).get)
configured = [*pulumi.runtime.get_config_env(), *pulumi.runtime.config.CONFIG.get()]
cfg = parse_config(raw, secret_config_keys(pulumi.runtime.is_config_secret), configured)
catalog = build_catalog(cfg)
glance = Glance.for_cloud(pulumi.Config("openstack").get("cloud"))
images = CommunityImages("community-images", cfg, catalog, glance)

pulumi.export("imageIds", images.image_ids)
pulumi.export("images", images.images)
pulumi.export("kubernetesImages", images.kubernetes_images)
pulumi.export("retiredImageIds", images.retired_image_ids)
pulumi.export("retiredImages", images.retired_images)
