"""The project's exceptions: each message says what is wrong and what the user can do."""


class FexpkgError(Exception):
    """Base class; the CLI prints its message as one line and exits non-zero."""


class UnsafePathError(FexpkgError):
    """A path would leave the target root, or passes through something that is not a directory."""


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


class KiwiError(FexpkgError):
    """Kiwi (the image builder) is missing or cannot validate a description."""
