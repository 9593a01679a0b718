"""FEX's Config.json: read, change one key, and find the RootFS in effect the way FEX does."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fexpkg.errors import ConfigError
from fexpkg.rootfs import Root

GLOBAL_DATA_DIR = "usr/share/fex-emu"
GLOBAL_CONFIG = f"{GLOBAL_DATA_DIR}/Config.json"
ROOTFS_KEY = ("Config", "RootFS")
DEFAULT_ROOTFS = "default.erofs"

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
    source: str
    exists: bool


def _rel(path: Path | str) -> str:
    return str(path).lstrip("/")


def user_config_path(root: Root, env: Mapping[str, str], home: Path) -> str:
    """The user's Config.json, root-relative, as FEX picks it.

    ~/.fex-emu/ when that directory exists, else $FEX_APP_CONFIG_LOCATION, else
    ${XDG_CONFIG_HOME:-~/.config}/fex-emu/.
    """
    legacy = home / ".fex-emu"
    if root.stat(_rel(legacy)) is not None:
        location = legacy
    elif env.get("FEX_APP_CONFIG_LOCATION"):
        location = Path(env["FEX_APP_CONFIG_LOCATION"])
    else:
        location = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "fex-emu"
    return _rel(location / "Config.json")


def rootfs_path(root: Root, value: str, home: Path) -> str:
    """Root-relative path of a RootFS value: absolute, or looked up under the data dirs."""
    if value.startswith("/"):
        return _rel(value)
    candidates = [_rel(home / ".fex-emu" / "RootFS" / value), f"{GLOBAL_DATA_DIR}/RootFS/{value}"]
    return next((c for c in candidates if root.exists(c)), candidates[-1])


def resolve_rootfs(
    root: Root, env: Mapping[str, str] = os.environ, home: Path | None = None
) -> RootFSInEffect:
    """The RootFS in effect: global config, then the user's, then $FEX_ROOTFS."""
    home = Path(home or env.get("HOME") or Path.home())
    value, source = None, "not set"
    for relpath in (GLOBAL_CONFIG, user_config_path(root, env, home)):
        configured = get_key(load(root, relpath), ROOTFS_KEY)
        if isinstance(configured, str) and configured:
            value, source = configured, "/" + relpath
    if env.get("FEX_ROOTFS"):
        value, source = env["FEX_ROOTFS"], "FEX_ROOTFS"
    if value is None:
        return RootFSInEffect(None, None, source, False)
    path = rootfs_path(root, value, home)
    return RootFSInEffect(value, "/" + path, source, root.exists(path))
