"""The base of every error an operator can act on."""

import pulumi


class CommunityImagesError(pulumi.RunError):
    """Its message names the config key or image at fault; as a ``RunError``, Pulumi prints it
    as it is instead of a traceback of this program."""
