"""Gunicorn entry point for Keystone's API (``keystone_wsgi:application``).

Keystone loads its configuration with oslo.config's ``CONF()`` without ``args=``, so it parses
``sys.argv``. Under gunicorn that is gunicorn's own command line: the worker dies on
``unrecognized arguments: --bind ...`` and the master respawns it forever. Hide the command
line while Keystone initialises; it finds its config through OS_KEYSTONE_CONFIG_DIR.
"""

import sys

_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    from keystone.wsgi.api import application
finally:
    sys.argv = _argv

__all__ = ["application"]
