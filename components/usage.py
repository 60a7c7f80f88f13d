"""Who still uses an image: every check must say "nobody" before a candidate is deleted.

Glance's refusal is no sign of use (a file or Swift store deletes an image servers booted from),
and Nova alone does not know a server booted from a volume: so each place that may hold an
image's ID is asked (``usage_servers``, ``usage_volumes``, ``usage_stacks``), and a check that
cannot be made keeps every image it was to check, saying which check and why.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from components.errors import CommunityImagesError
from components.glance import SDK_ERRORS

# What a check may raise that it did not turn into CheckFailed itself (a token that expires
# mid-check, a connection reset, a missing CLI): still a check not made, never a traceback.
UNFORESEEN = (*SDK_ERRORS, OSError)

SHOWN_USERS = 3


class CheckFailed(CommunityImagesError):
    """A check could not be made; says why and, where it can, what to set."""


class UsageCheck(Protocol):
    what: str
    """What it counts, plural ("servers", "volumes", "consumer stacks")."""

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        """Image ID → the IDs or names of what uses it (only images with users); raises
        CheckFailed when it cannot tell."""
        ...


@dataclass
class Usage:
    users: dict[str, list[str]] = field(default_factory=dict)
    """What counts → its users, for the checks that found some."""
    unknown: list[str] = field(default_factory=list)
    """Why a check could not be made."""

    @property
    def free(self) -> bool:
        return not self.users and not self.unknown

    def summary(self) -> str:
        if self.free:
            return "unused"
        parts = [_shown(len(users), what, users) for what, users in self.users.items()]
        parts += [f"unknown: {why}" for why in self.unknown]
        return "; ".join(parts)


def _shown(count: int, what: str, users: Sequence[str]) -> str:
    if count == 1:
        what = what.removesuffix("s")
    more = ", …" if count > SHOWN_USERS else ""
    return f"{count} {what} ({', '.join(users[:SHOWN_USERS])}{more})"


def find_usage(checks: Sequence[UsageCheck], image_ids: Collection[str]) -> dict[str, Usage]:
    """The usage of every image in ``image_ids`` by every check."""
    usage = {image_id: Usage() for image_id in image_ids}
    if not usage:
        return usage
    for check in checks:
        try:
            found = check.users(image_ids)
        except CheckFailed as exc:
            _unknown(usage, check, str(exc))
            continue
        except UNFORESEEN as exc:
            _unknown(usage, check, _reason(exc))
            continue
        for image_id, users in found.items():
            if users and image_id in usage:
                usage[image_id].users[check.what] = sorted(users)
    return usage


def _unknown(usage: dict[str, Usage], check: UsageCheck, why: str) -> None:
    for item in usage.values():
        item.unknown.append(f"the {check.what} check cannot be made: {why}")


def _reason(exc: BaseException) -> str:
    # Some SDK and OS errors have an empty message; their class still says what went wrong.
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
