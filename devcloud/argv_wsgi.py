"""Gunicorn application factory for services that parse ``sys.argv`` while they initialise.

Nova's and Neutron's WSGI entry points hand ``sys.argv[1:]`` to oslo.config: under gunicorn that
is gunicorn's own command line, the worker dies on ``unrecognized arguments: --bind ...`` and
the master respawns it forever. ``argv_wsgi:app("nova.wsgi.osapi_compute")`` imports the entry
point with the command line hidden; the services find their config through OS_*_CONFIG_DIR.

``configure_mappers=True`` completes SQLAlchemy's mappings before the first request: Neutron's
port listing reads ``Port.port_forwardings``, a backref that exists only once the mappers are
configured, which a first query elsewhere would do; as the first request of a fresh API worker,
``GET /v2.0/ports`` answers 500.
"""

import importlib
import sys
from collections.abc import Callable
from typing import Any

import sqlalchemy.orm


def app(module: str, configure_mappers: bool = False) -> Callable[..., Any]:
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        application = importlib.import_module(module).application
    finally:
        sys.argv = argv
    if configure_mappers:
        sqlalchemy.orm.configure_mappers()
    return application
