"""FEX's Config.json: read, change one key, and find the RootFS in effect the way FEX does."""

from __future__ import annotations

import copy
import enum
import json
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fexpkg.confined import Root
from fexpkg.errors import ConfigError

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from typing import Any

GLOBAL_DATA_DIR = "usr/share/fex-emu"
GLOBAL_CONFIG = f"{GLOBAL_DATA_DIR}/Config.json"
ROOTFS_KEY = ("Config", "RootFS")
DEFAULT_ROOTFS = "default.erofs"
# What setup writes: absolute, so that no file in the current or a user directory shadows it.
DEFAULT_ROOTFS_PATH = f"/{GLOBAL_DATA_DIR}/RootFS/{DEFAULT_ROOTFS}"

KeyPath = tuple[str, ...]


def load(root: Root, relpath: str) -> dict[str, Any] | None:
    """A Config.json as a dict, None when missing; ConfigError (file and line) when broken."""
    try:
        data = root.read_bytes(relpath)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError(f"{root.display(relpath)} is a directory, not a FEX config") from None
    try:
        config = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{root.display(relpath)}: not UTF-8 ({exc.reason}); fix it") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{root.display(relpath)}:{exc.lineno}: invalid JSON ({exc.msg}); fix it, fexpkg "
            "leaves it alone"
        ) from None
    except (ValueError, RecursionError) as exc:  # a number too long, nesting too deep
        raise ConfigError(
            f"{root.display(relpath)}: unreadable JSON ({str(exc).partition(':')[0]}); fix it, "
            "fexpkg leaves it alone"
        ) from None
    if not isinstance(config, dict) or not isinstance(config.get("Config", {}), dict):
        raise ConfigError(
            f'{root.display(relpath)}: expected {{"Config": {{...}}}}; fix it, fexpkg leaves '
            "it alone"
        )
    return config


def dumps(config: Mapping[str, Any]) -> bytes:
    """Serialise a config the way fexpkg writes it."""
    return (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


MISSING: Any = object()


def get_key(config: Mapping[str, Any] | None, key: KeyPath) -> Any:
    """Value at a key path, MISSING when absent."""
    node: Any = config or {}
    for part in key:
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return node


def with_key(config: Mapping[str, Any] | None, key: KeyPath, value: Any) -> dict[str, Any]:
    """A copy of `config` with `key` set to `value`, or removed for MISSING (empty parents too)."""
    result = copy.deepcopy(dict(config or {}))
    nodes = [result]
    for part in key[:-1]:
        child = nodes[-1].get(part)
        if not isinstance(child, dict):
            if value is MISSING:
                return result
            child = nodes[-1][part] = {}
        nodes.append(child)
    if value is not MISSING:
        nodes[-1][key[-1]] = value
        return result
    nodes[-1].pop(key[-1], None)
    for parent, part in zip(reversed(nodes[:-1]), reversed(key[:-1]), strict=True):
        if parent[part] == {}:
            del parent[part]
    return result


@dataclass(frozen=True)
class RootFSInEffect:
    """The RootFS FEX would use: the configured value, where it resolves, who set it."""

    value: str | None
    path: str | None
    origin: RootFSOrigin
    exists: bool
    config: str | None = None  # the Config.json (root-relative) that set it

    @property
    def source(self) -> str:
        """For people: the Config.json's path, FEX_ROOTFS, or why there is none."""
        return "/" + self.config if self.config else self.origin.value

    def as_dict(self) -> dict[str, Any]:
        """Stable keys for `fexpkg status --json`."""
        return {
            "value": self.value,
            "path": self.path,
            "source": self.source,
            "exists": self.exists,
        }


class RootFSOrigin(enum.Enum):
    """Who set the RootFS in effect (FEX reads them in this order, the last one set wins)."""

    NOT_SET = "not set"
    GLOBAL_CONFIG = "the global Config.json"
    USER_CONFIG = "the user's Config.json"
    ENVIRONMENT = "FEX_ROOTFS"
    UNREADABLE = "unreadable config"


# FEX's directories, read from FEX's source (FEX-Emu/FEX):
# - Source/Common/Config.cpp, GetDataDirectory / GetConfigDirectory: the global data and config
#   directories are both GLOBAL_DATA_DIRECTORY (/usr/share/fex-emu/). The user's data directory is
#   ~/.fex-emu/ when it exists, else $FEX_APP_DATA_LOCATION as given, else
#   ${XDG_DATA_HOME:-~/.local/share}/fex-emu/; the user's config directory the same with
#   $FEX_APP_CONFIG_LOCATION and ${XDG_CONFIG_HOME:-~/.config}. A variable set but empty counts as
#   set (getenv). FEX concatenates strings: an override without a trailing slash is used as is.
#   GetConfigFileLocation: <config directory> + "Config.json".
# - FEXCore/Source/Interface/Config/Config.cpp, ExpandPath / ReloadMetaLayer: an absolute RootFS
#   is used as is; a relative one starting with ~/ is $HOME + the rest; any other relative one is
#   taken relative to the current directory if it exists there, else looked up as
#   <dir> + "RootFS/" + value under the global data, global config, user data and user config
#   directories, in that order, the last existing one winning; found nowhere, it stays unresolved.
#   Layers, each overriding the one before: global Config.json, the user's, then FEX_ROOTFS from
#   the environment; an empty value (in a file or FEX_ROOTFS=) overrides too, leaving no RootFS.
# Not modelled: app-specific configs (AppConfig/<program>.json), $FEX_APP_CONFIG, portable and
# Steam (STEAM_COMPAT_DATA_PATH) builds, pressure-vessel's /run/host prefix.
GLOBAL_DIR = f"/{GLOBAL_DATA_DIR}/"


@dataclass(frozen=True)
class UserDirs:
    """The user's FEX data and config directories, absolute, as FEX spells them."""

    data: str
    config: str

    @property
    def config_file(self) -> str:
        return self.config + "Config.json"


def _rel(path: Path | str) -> str:
    return str(path).lstrip("/")


def _absolute(path: str, cwd: Path | str) -> str:
    return posixpath.join(str(cwd), path)


def user_home(env: Mapping[str, str], home: Path | str | None = None) -> Path:
    """The user's home: `home` when given, else $HOME, else the password database's."""
    return Path(home or env.get("HOME") or Path.home())


def user_dirs(root: Root, env: Mapping[str, str], home: Path, cwd: Path | str = "/") -> UserDirs:
    """The user's data and config directories, as FEX picks them (see above)."""
    legacy = f"{home}/.fex-emu/"
    if root.stat(_rel(legacy)) is not None:
        return UserDirs(legacy, legacy)

    def pick(override: str, xdg: str, default: str) -> str:
        if override in env:
            return _absolute(env[override], cwd)
        return _absolute(env.get(xdg, f"{home}/{default}") + "/fex-emu/", cwd)

    return UserDirs(
        pick("FEX_APP_DATA_LOCATION", "XDG_DATA_HOME", ".local/share"),
        pick("FEX_APP_CONFIG_LOCATION", "XDG_CONFIG_HOME", ".config"),
    )


def user_config_path(root: Root, env: Mapping[str, str], home: Path, cwd: Path | str = "/") -> str:
    """The user's Config.json, root-relative, as FEX picks it."""
    return _rel(user_dirs(root, env, home, cwd).config_file)


def rootfs_path(
    root: Root, value: str, env: Mapping[str, str], home: Path, cwd: Path | str = "/"
) -> str | None:
    """Where FEX finds a RootFS value (absolute), None when a relative one is found nowhere."""
    if value.startswith("/"):
        return value
    if value.startswith("~/"):
        return f"{home}{value[1:]}"
    here = _absolute(value, cwd)
    if root.exists(_rel(here)):
        return here
    dirs = user_dirs(root, env, home, cwd)
    found = None
    for directory in (GLOBAL_DIR, GLOBAL_DIR, dirs.data, dirs.config):
        candidate = _absolute(f"{directory}RootFS/{value}", cwd)
        if root.exists(_rel(candidate)):
            found = candidate
    return found


def resolve_rootfs(
    root: Root,
    env: Mapping[str, str] = os.environ,
    home: Path | None = None,
    cwd: Path | str = "/",
) -> RootFSInEffect:
    """The RootFS in effect: global config, then the user's, then $FEX_ROOTFS (see above)."""
    home = user_home(env, home)
    value, origin, config = None, RootFSOrigin.NOT_SET, None
    layers = (
        (GLOBAL_CONFIG, RootFSOrigin.GLOBAL_CONFIG),
        (user_config_path(root, env, home, cwd), RootFSOrigin.USER_CONFIG),
    )
    for relpath, layer in layers:
        configured = get_key(load(root, relpath), ROOTFS_KEY)
        if isinstance(configured, str):
            value, origin, config = configured, layer, relpath
    if "FEX_ROOTFS" in env:
        value, origin, config = env["FEX_ROOTFS"], RootFSOrigin.ENVIRONMENT, None
    if not value:
        return RootFSInEffect(value, None, origin, False, config)
    path = rootfs_path(root, value, env, home, cwd)
    if path is None:  # unresolved: report where the packaged image would be
        return RootFSInEffect(value, f"{GLOBAL_DIR}RootFS/{value}", origin, False, config)
    return RootFSInEffect(value, path, origin, root.exists(_rel(path)), config)
