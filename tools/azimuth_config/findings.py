"""What the import found that the operator must know: problems stop it, notes only inform."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    where: str
    """``file:line`` of the definition (or the nested value) it is about."""
    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.variable} {self.message}"


@dataclass
class Findings:
    problems: list[Finding] = field(default_factory=list)
    """Values that were not imported: the stack file would not be what Ansible had."""
    notes: list[Finding] = field(default_factory=list)
    """Decisions the operator may want to check; nothing was lost."""

    def problem(self, where: str, variable: str, message: str) -> None:
        self.problems.append(Finding(where, variable, message))

    def note(self, where: str, variable: str, message: str) -> None:
        self.notes.append(Finding(where, variable, message))
