"""A dynamic resource of the same kind as ``components.properties.ImageProperties`` (same
inputs, same diff, the provider pickled by reference to this module) whose create and update
do nothing: what the engine and the dynamic-provider process cost per image, without Glance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult


class NoopPropertiesProvider(ResourceProvider):
    serialize_as_secret_always = False

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if olds.get("imageId") != news.get("imageId"):
            return DiffResult(changes=True, replaces=["imageId"])
        return DiffResult(changes=olds.get("properties") != news.get("properties"))

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["imageId"], props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete."""


class NoopProperties(Resource, module="engine-floor", name="NoopProperties"):
    def __init__(
        self,
        name: str,
        image_id: pulumi.Input[str],
        image_name: str,
        cloud: str | None,
        properties: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "imageId": image_id,
            "imageName": image_name,
            "cloud": cloud,
            "properties": dict(properties),
            "retired": False,
            "setAtUpload": True,
        }
        super().__init__(NoopPropertiesProvider(), name, inputs, opts)
