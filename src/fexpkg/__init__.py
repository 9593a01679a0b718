"""fexpkg: `dnf install @fex-x86-emulation` gives AArch64 Fedora working x86 emulation."""

from __future__ import annotations


def version() -> str:
    """fexpkg's version, from its installed metadata (pyproject.toml's, or the RPM's %{version})."""
    from importlib import metadata  # only when asked: it costs start-up time of every command

    try:
        return metadata.version("fexpkg")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"
