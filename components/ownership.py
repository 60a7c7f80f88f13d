"""Which images are this stack's, and whose images it may reuse.

On a shared cloud any project may create community images, and anything it can write on one
(a name, a tag, a property) is a stranger's claim, never proof. Glance sets an image's ``owner``
itself, so ownership is the project *and* the stack's tag: the tag tells this stack's images
from other stacks' of the same project, the owner tells them from a copy of the tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.glance_image import GlanceImage


def owner_tag(project: str, stack: str) -> str:
    """The Glance tag that marks an image as created by this stack, so that a lost state adopts
    its own images instead of duplicating them, and other stacks' images are only reused."""
    return f"community-images:{project}/{stack}"


@dataclass(frozen=True)
class Ownership:
    project: str
    """The project the stack runs as (Keystone's ID): the owner of every image it creates."""
    tag: str
    trusted_owners: frozenset[str] = frozenset()
    """``trustedImageOwners``: projects whose images are trusted like this project's own."""

    def ours(self, image: GlanceImage) -> bool:
        return image.owner == self.project and self.tag in image.tags

    def forged(self, image: GlanceImage) -> bool:
        """Another project's image carrying this stack's tag: ignored for every decision."""
        return self.tag in image.tags and image.owner != self.project

    def vouched(self, image: GlanceImage) -> bool:
        """Owned by this project or one the site trusts: its name and this program's own
        properties on it are taken as they are."""
        return image.owner == self.project or image.owner in self.trusted_owners

    def may_reuse(self, image: GlanceImage) -> bool:
        """With ``trustedImageOwners`` set, images of other projects are never reused."""
        return not self.trusted_owners or self.vouched(image)
