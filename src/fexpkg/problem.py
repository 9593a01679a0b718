"""A finding in a file, as the validators and linters report it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR = "error"
"""The file would break a consumer (DNF, libcomps, a CI check), or the change brought it."""
WARNING = "warning"
"""Style, or debt the file already carries: reported, but nothing fails on it."""
NOTICE = "notice"
"""For information only, e.g. a problem a baseline already had."""


@dataclass(frozen=True)
class Problem:
    """One problem at one line of one file, printed `FILE:LINE: message` (an error) or
    `FILE:LINE: SEVERITY: message` (anything milder)."""

    path: str | Path
    line: int
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        tag = "" if self.severity == ERROR else f"{self.severity}: "
        return f"{self.path}:{self.line}: {tag}{self.message}"
