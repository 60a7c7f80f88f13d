"""How failures reach an operator: one message naming the config key or image, no traceback."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import pulumi

# Tells Pulumi's Python language host that the program already said what went wrong.
_EXIT_AFTER_MESSAGE = 32


class CommunityImagesError(pulumi.RunError):
    """Its message names the config key or image at fault; as a ``RunError``, Pulumi prints it
    as it is instead of a traceback of this program."""


def stop_quietly_when_interrupted() -> None:
    """When the engine ends a run early (a resource failed, or the operator pressed Ctrl-C), the
    language host interrupts the program wherever it is, and Python would print a
    ``KeyboardInterrupt`` traceback from deep inside Pulumi's SDK, burying the error that ended the
    run. Downloads in flight stop as with any interruption: their ``.part`` files are resumed, and
    verified, by the next run, never trusted as they are."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        sys.stderr.write(
            "community-images stopped: the Pulumi engine ended the run; the error above says "
            "which image or setting failed, and the next `pulumi up` resumes from there\n"
        )
        sys.stderr.flush()
        os._exit(_EXIT_AFTER_MESSAGE)

    signal.signal(signal.SIGINT, stop)
