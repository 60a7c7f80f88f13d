"""Has the engine start the two provider plugins while the program still reads Glance.

The engine starts a provider's plugin when the program first uses it, and a Python program
sends its registrations only once its body has run. So on every pass (an ``up`` makes two) the
openstack provider (about 1 s to start here) and the dynamic provider's Python (about 0.8 s)
would only begin after this program's imports and Glance lookups, in series with them. An
invoke to each, sent from a thread, makes the engine load it at once: the dynamic provider's as
the program starts, the openstack provider's as soon as the program's own login to the same
cloud succeeded (a provider that fails to configure ends the whole run, and its error must not
overtake the program's own, which names the setting). The answers are not used; a failure (the
dynamic provider has no functions, so its invoke always fails) only means no time was saved.
Nothing changes in the stack: both are the default providers the program's resources use.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import threading
from collections.abc import Callable

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2, resource_pb2_grpc

from components.values import NAMESPACE

# A function that needs no input and reads nothing but the provider's own token.
OPENSTACK_FUNCTION = "openstack:identity/getAuthScope:getAuthScope"
DYNAMIC_FUNCTION = "pulumi-python:dynamic:startProvider"

Request = Callable[[], resource_pb2.ResourceInvokeRequest]


def warm_dynamic_provider() -> None:
    _send(_dynamic_invoke)


def warm_openstack_provider() -> None:
    _send(_openstack_invoke)


def _send(request: Request) -> None:
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
    threading.Thread(target=_invoke, args=(monitor, request), daemon=True).start()


def _openstack_invoke() -> resource_pb2.ResourceInvokeRequest:
    args = struct_pb2.Struct()
    args.update({"name": "community-images"})
    # The version the resources ask for, so that the engine loads that same default provider.
    version = importlib.metadata.version("pulumi-openstack")
    return resource_pb2.ResourceInvokeRequest(tok=OPENSTACK_FUNCTION, args=args, version=version)


def _dynamic_invoke() -> resource_pb2.ResourceInvokeRequest:
    return resource_pb2.ResourceInvokeRequest(tok=DYNAMIC_FUNCTION, args=struct_pb2.Struct())


def _invoke(monitor: resource_pb2_grpc.ResourceMonitorStub, request: Request) -> None:
    with contextlib.suppress(Exception):
        monitor.Invoke(request())
