"""The project's exceptions: each message says what is wrong and what the user can do."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class FexpkgError(Exception):
    """Base class; the CLI prints its message as one line and exits non-zero."""


class UnsafePathError(FexpkgError):
    """A path would leave the target root, or passes through something that is not a directory."""


class RootWriteError(FexpkgError):
    """A write into a target root failed: disk full, read-only file system, no permission."""


class ConfigError(FexpkgError):
    """A FEX Config.json that cannot be read or merged."""


class BinfmtError(FexpkgError):
    """A binfmt_misc line or interface that cannot be parsed or used."""


class CompsError(FexpkgError):
    """A comps file that cannot be parsed, validated or merged."""


class SpecError(FexpkgError):
    """A spec file that cannot be parsed or built."""


class RepoError(FexpkgError):
    """Building the RPM repository failed."""


class MissingDependency(FexpkgError, ImportError):
    """A Python module a tooling command needs is not installed (python3-fexpkg does not
    require the tooling's modules: `fexpkg setup` runs on systems without them)."""


@contextlib.contextmanager
def requires(package: str) -> Iterator[None]:
    """Make a failed import in the block a MissingDependency naming the Fedora `package`.

    Wraps a tooling module's top-level imports of an optional module, e.g.
    `with requires("python3-lxml"): from lxml import etree`.
    """
    try:
        yield
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError):
            what = f"the Python module {exc.name} is not installed"
        else:
            what = f"a Python module does not import ({exc})"
        message = f"{what}; install it: sudo dnf install {package}"
        raise MissingDependency(" ".join(message.split()), name=exc.name) from exc


class ErofsError(FexpkgError):
    """An EroFS image that cannot be read."""


class RootfsCheckError(FexpkgError):
    """A RootFS that cannot be checked (missing, neither an image nor a directory)."""


class LdCacheError(FexpkgError):
    """An ld.so.cache that cannot be parsed."""
