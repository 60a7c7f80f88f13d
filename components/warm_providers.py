"""Has the engine start the two provider plugins while the program still reads Glance.

The engine starts a provider's plugin when the program first uses it, and a Python program
sends its registrations only once its body has run. So on every pass (an ``up`` makes two) the
openstack provider (about 1 s to start here) and the dynamic provider's Python (about 0.8 s)
would only begin after this program's imports and Glance lookups, in series with them. An
invoke to each, sent from threads as the program starts, makes the engine load both at once;
by the time the images are declared they are ready. The answers are not used, and a failure
(the dynamic provider has no functions, so its invoke always fails) only means no time was
saved. Nothing changes in the stack: both are the default providers the resources use.

A provider that cannot even be configured (``openstack:cloud`` names no entry of clouds.yaml)
ends the run with its own error, which names the cloud, before the program's would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2, resource_pb2_grpc

from components.values import NAMESPACE

# A function that needs no input and reads nothing but the provider's own token.
OPENSTACK_FUNCTION = "openstack:identity/getAuthScope:getAuthScope"
DYNAMIC_FUNCTION = "pulumi-python:dynamic:startProvider"

Request = Callable[[], resource_pb2.ResourceInvokeRequest]


def warm_providers() -> None:
    """Unless there is no engine (unit tests' mocks) or the site declares no image at all
    (``images: {}``): its stack holds no provider, and the engine records any it loads."""
    monitor = settings.get_monitor()
    if not isinstance(monitor, resource_pb2_grpc.ResourceMonitorStub):
        return
    try:
        images = pulumi.Config(NAMESPACE).get_object("images")
    except ValueError:
        images = None  # the program's own validation reports it
    if images == {}:
        return
    for request in (_openstack_invoke, _dynamic_invoke):
        threading.Thread(target=_invoke, args=(monitor, request), daemon=True).start()


def _openstack_invoke() -> resource_pb2.ResourceInvokeRequest:
    args = struct_pb2.Struct()
    args.update({"name": "community-images"})
    return resource_pb2.ResourceInvokeRequest(
        tok=OPENSTACK_FUNCTION, args=args, version=_plugin_version("pulumi_openstack")
    )


def _plugin_version(package: str) -> str:
    """The provider version the package's resources ask for, so that the engine loads that
    same default provider: its pulumi-plugin.json, read without importing the package (and
    without importlib.metadata's scan of every installed distribution, which would wait on the
    program's imports for the interpreter)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    plugin = Path(next(iter(spec.submodule_search_locations))) / "pulumi-plugin.json"
    return str(json.loads(plugin.read_text())["version"])


def _dynamic_invoke() -> resource_pb2.ResourceInvokeRequest:
    return resource_pb2.ResourceInvokeRequest(tok=DYNAMIC_FUNCTION, args=struct_pb2.Struct())


def _invoke(monitor: resource_pb2_grpc.ResourceMonitorStub, request: Request) -> None:
    with contextlib.suppress(Exception):
        monitor.Invoke(request())
