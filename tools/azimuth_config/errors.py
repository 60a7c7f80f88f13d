"""The one error the tool reports: a message for the operator, never a traceback."""

from __future__ import annotations


class ToolError(Exception):
    """A problem the operator fixes; ``str()`` is the whole message."""
