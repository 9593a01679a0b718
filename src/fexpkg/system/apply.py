"""Apply a plan to a root and undo it, recording every change in a manifest.

The manifest (var/lib/fexpkg/manifest.json) holds one item per path (or JSON key) fexpkg manages:
what was there before (a backup copy, a link target, a JSON value, or absent) and what fexpkg
wrote, and the directories the write had to create. An item is recorded as pending before the
write and marked done after it, and the manifest is rewritten atomically at each step, so an
interrupted setup is completed by the next setup or teardown: the directories a write will create
are recorded before it, and each run first removes, under the lock, what a killed one left
(temporary files, unrecorded backups, see Manifest.recover). Anything changed by someone else
since fexpkg wrote it is left alone with a warning, and its item kept.

Undoing an item also removes the directories it created, once empty (a directory still holding
another item's path is handed to that item). When no item is left, fexpkg's own state goes too:
the manifest, var/lib/fexpkg and the parents fexpkg created for it (recorded in the manifest), so
setup then teardown leaves the root as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from fexpkg.confined import Root
from fexpkg.errors import ConfigError, FexpkgError, UnsafePathError
from fexpkg.system.fexconfig import MISSING, dumps, get_key, load, with_key
from fexpkg.system.plan import Change, Plan, SetJsonKey, Symlink, WriteFile

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from typing import Any

    #: What a path or JSON key holds: {"state": "absent" | "file" | "symlink" | "value" | "other"}
    State = dict[str, Any]

log = logging.getLogger(__name__)

STATE_DIR = "var/lib/fexpkg"
MANIFEST = f"{STATE_DIR}/manifest.json"
BACKUP_DIR = f"{STATE_DIR}/backup"
LEGACY_LOCK = f"{STATE_DIR}/lock"  # written by fexpkg before it locked the root directory
ABSENT = {"state": "absent"}
#: The manifest's name while var/lib/fexpkg (or a parent fexpkg made) is being made or removed.
PARKED = ".fexpkg-manifest.json"
#: var, var/lib, var/lib/fexpkg: the directories the manifest may have to create.
STATE_CHAIN = tuple(STATE_DIR[:i] for i, c in enumerate(STATE_DIR + "/") if c == "/")


@dataclass
class Item:
    """One path (or JSON key) fexpkg manages: what was there before it, and what it wrote."""

    id: str
    kind: str  # "file", "symlink" or "json"
    path: str
    wrote: State
    key: list[str] | None = None  # json: the key's path in the file
    before: State = field(default_factory=lambda: dict(ABSENT))
    done: bool = False  # False between recording a write and finishing it
    replaced: State | None = None  # while not done: what the write replaces (older: before)
    created_file: bool = False  # json: fexpkg made the file for the key
    created_dirs: list[str] = field(default_factory=list)  # outermost first

    @classmethod
    def for_change(cls, change: Change) -> Item:
        """The item a change's write makes (nothing before it recorded yet)."""
        if isinstance(change, SetJsonKey):
            wrote = {"state": "value", "value": change.value}
            return cls(change.id, "json", change.relpath, wrote, key=list(change.key))
        if isinstance(change, Symlink):
            return cls(
                change.id, "symlink", change.relpath, {"state": "symlink", "target": change.target}
            )
        digest = hashlib.sha256(change.data).hexdigest()
        return cls(
            change.id,
            "file",
            change.relpath,
            {"state": "file", "sha256": digest, "mode": change.mode},
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        """An item as the manifest stores it."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})

    def to_json(self) -> dict[str, Any]:
        """The manifest's form: fields at their defaults that do not apply are left out."""
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "path": self.path}
        if self.key is not None:
            data["key"] = self.key
        data.update(wrote=self.wrote, before=self.before, done=self.done)
        if self.replaced is not None:
            data["replaced"] = self.replaced
        if self.kind == "json":
            data["created_file"] = self.created_file
        if self.created_dirs:
            data["created_dirs"] = self.created_dirs
        return data

    def describe(self, root: Root) -> str:
        """`KEY in PATH` or `PATH`, for messages."""
        what = ".".join(self.key) + " in " if self.key is not None else ""
        return f"{what}{root.display(self.path)}"


class Step(Enum):
    """What applying a change does, given what the path holds and what the manifest records."""

    NOTHING = "nothing"  # the path holds what fexpkg writes
    LEAVE_ALONE = "leave alone"  # someone changed it since fexpkg wrote it
    WRITE = "write"


def decide(current: State, wanted: State, item: Item | None) -> Step:
    """The one decision `apply_plan` acts on and `pending` reports."""
    if _same(current, wanted):
        return Step.NOTHING
    if item is not None and _changed_since(current, item):
        return Step.LEAVE_ALONE
    return Step.WRITE


def _parked(directory: str) -> str:
    return f"{directory}/{PARKED}" if directory else PARKED


#: Where the manifest can be: in place, else parked beside a STATE_CHAIN directory, deepest first.
LOCATIONS = (MANIFEST, *(_parked(posixpath.dirname(d)) for d in reversed(STATE_CHAIN)))


@dataclass
class Result:
    """What apply or undo changed, and what it left alone (warnings)."""

    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Manifest:
    """The record of managed items, saved atomically after each change.

    It never leaves a directory unrecorded: to make var/lib/fexpkg (and the parents missing), it is
    first written beside the deepest one that exists (PARKED), naming those it will create, and
    moved down into each as it is made; removing them moves it up the same way. A killed run thus
    always leaves one manifest, found by the next run at one of LOCATIONS.
    """

    def __init__(self, root: Root) -> None:
        self.root = root
        self.at: str | None = None
        self.items: dict[str, Item] = {}
        self.created_dirs: list[str] = []
        for location in LOCATIONS:
            try:
                raw = root.read_bytes(location)
            except FileNotFoundError:
                continue
            self.at = location
            break
        else:
            return
        try:
            data = json.loads(raw)
            self.items = {item["id"]: Item.from_json(item) for item in data["items"]}
            self.created_dirs = list(data.get("created_dirs", []))
        except (ValueError, KeyError, TypeError) as exc:
            raise FexpkgError(
                f"{root.display(self.at)} is corrupt ({exc}); remove it and check "
                "/etc/binfmt.d and /usr/share/fex-emu/Config.json by hand"
            ) from None

    def _data(self) -> bytes:
        items = [item.to_json() for item in self.items.values()]
        data = {"version": 1, "created_dirs": self.created_dirs, "items": items}
        return (json.dumps(data, indent=2) + "\n").encode()

    def _move(self, location: str) -> None:
        if self.at is not None and self.at != location:
            self.root.rename(self.at, location)
        self.at = location

    def make_state_dir(self) -> None:
        """Create var/lib/fexpkg if needed, recording the directories before making them."""
        missing = [d for d in STATE_CHAIN if not self.root.exists(d)]
        if not missing:
            return
        self.created_dirs += [d for d in missing if d not in self.created_dirs]
        if self.at is None:
            self.at = _parked(posixpath.dirname(missing[0]))
        self.root.write_atomic(self.at, self._data())
        for directory in missing:
            self.root.makedirs(directory)
            self._move(MANIFEST if directory == STATE_DIR else _parked(directory))

    def save(self) -> None:
        """Write the record; with no item left, remove fexpkg's state from the root instead."""
        if not self.items:
            self._remove_state()
            return
        self.make_state_dir()
        self.root.write_atomic(MANIFEST, self._data())
        if self.at not in (None, MANIFEST):  # a parked copy from a killed run
            self.root.remove(self.at)
        self.at = MANIFEST

    def _remove_state(self) -> None:
        """Remove the manifest and the directories made for it, moving it up as they go."""
        self.root.remove(LEGACY_LOCK)
        self.root.rmdir(BACKUP_DIR)
        created = [STATE_DIR, *(d for d in reversed(self.created_dirs) if d != STATE_DIR)]
        for directory in created:
            if self.at is not None and posixpath.dirname(self.at) == directory:
                self._move(_parked(posixpath.dirname(directory)))
            if self.root.lexists(directory) and not self.root.rmdir(directory):
                break  # holds something else: kept, and so are its parents
        if self.at is not None:
            self.root.remove(self.at)
        self.at, self.created_dirs = None, []

    def recover(self, paths: Iterable[str] = ()) -> None:
        """Remove what a killed run left: temporary files, stale manifest copies, backups.

        Temporary files are looked for beside the manifest, the backups and each managed path
        (and `paths`); the manifest is left alone when nothing is recorded but state remains.
        """
        root = self.root
        for location in LOCATIONS:
            if location != self.at and root.lexists(location):
                root.remove(location)
        dirs = {"", *STATE_CHAIN, *_tree(root, BACKUP_DIR)}
        for path in (*paths, *(item.path for item in self.items.values())):
            dirs.add(posixpath.dirname(path))
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, UnsafePathError):
                dirs.add(posixpath.dirname(root.resolve(path)))
        for directory in sorted(dirs):
            root.sweep(directory)
        kept = {item.before.get("backup") for item in self.items.values()}
        backup_dirs = _tree(root, BACKUP_DIR)
        for directory in sorted(backup_dirs, reverse=True):
            for name in root.listdir(directory):
                path = f"{directory}/{name}"
                if path not in kept and path not in backup_dirs and root.remove(path):
                    log.debug("removed %s, left by an interrupted fexpkg", root.display(path))
            if directory != BACKUP_DIR:
                root.rmdir(directory)  # only when empty
        if not self.items and self.at is not None:
            self._remove_state()


def _tree(root: Root, relpath: str) -> list[str]:
    """A directory and the directories under it (no symlink followed), [] when it is missing."""
    info = root.stat(relpath, follow=False)
    if info is None or not stat.S_ISDIR(info.st_mode):
        return []
    found = [relpath]
    for name in root.listdir(relpath):
        found += _tree(root, f"{relpath}/{name}")
    return found


# -- states -----------------------------------------------------------------------------------


def _path_state(root: Root, relpath: str) -> State:
    link = root.readlink(relpath)
    if link is not None:
        return {"state": "symlink", "target": link}
    info = root.stat(relpath, follow=False)
    if info is None:
        return dict(ABSENT)
    if not stat.S_ISREG(info.st_mode):
        return {"state": "other"}
    digest = hashlib.sha256(root.read_bytes(relpath)).hexdigest()
    return {"state": "file", "sha256": digest, "mode": stat.S_IMODE(info.st_mode)}


def _json_state(root: Root, relpath: str, key: list[str]) -> State:
    value = get_key(load(root, relpath), tuple(key))
    return dict(ABSENT) if value is MISSING else {"state": "value", "value": value}


def _current(root: Root, item: Item) -> State:
    if item.key is not None:
        return _json_state(root, item.path, item.key)
    return _path_state(root, item.path)


def _same(state: State, other: State) -> bool:
    return {k: v for k, v in state.items() if k != "backup"} == {
        k: v for k, v in other.items() if k != "backup"
    }


def _capture_before(manifest: Manifest, item: Item, current: State) -> State:
    """The state to restore on undo; a file is copied under var/lib/fexpkg/backup/, mode kept."""
    root = manifest.root
    if item.kind == "json":
        info = root.stat(item.path)
        item.created_file = info is None
        if info is not None:  # its bytes, so that undo keeps the user's formatting
            backup = f"{BACKUP_DIR}/{item.id}"
            manifest.make_state_dir()
            root.write_atomic(backup, root.read_bytes(item.path), stat.S_IMODE(info.st_mode))
            return {**current, "backup": backup}
    if current["state"] == "file":
        backup = f"{BACKUP_DIR}/{item.path}"
        manifest.make_state_dir()
        root.write_atomic(backup, root.read_bytes(item.path), current["mode"])
        return {**current, "backup": backup}
    return current


# -- writing and restoring ----------------------------------------------------------------------


def _write(root: Root, change: Change) -> list[str]:
    """Write a change's state; return the directories created for it."""
    if isinstance(change, Symlink):
        return root.symlink_atomic(change.relpath, change.target)
    if isinstance(change, WriteFile):
        if root.readlink(change.relpath) is not None:
            root.remove(change.relpath)  # replace the link itself; undo puts it back
        return root.write_atomic(change.relpath, change.data, change.mode)
    return _write_json(root, change.relpath, change.key, change.value)


def _write_json(root: Root, relpath: str, key: tuple[str, ...], value: Any) -> list[str]:
    info = root.stat(relpath)
    config = with_key(load(root, relpath), key, value)
    return root.write_atomic(relpath, dumps(config), stat.S_IMODE(info.st_mode) if info else 0o644)


def _restore(root: Root, item: Item) -> str:
    """Put back what was there before fexpkg; return a description of the change."""
    path, before = item.path, item.before
    if item.key is not None:
        key = tuple(item.key)
        value = before["value"] if before["state"] == "value" else MISSING
        current = load(root, path)
        remaining = with_key(current, key, value)
        if item.created_file and not remaining:
            root.remove(root.resolve(path))  # the file itself, through a symlink if one leads there
            return f"removed {root.display(path)}"
        original = root.read_bytes(before["backup"]) if "backup" in before else None
        if original is not None and with_key(json.loads(original), key, MISSING) == with_key(
            current, key, MISSING
        ):  # nothing else changed since: put the user's bytes back
            info = root.stat(path)
            root.write_atomic(path, original, stat.S_IMODE(info.st_mode) if info else 0o644)
        else:
            _write_json(root, path, key, value)
        return f"restored {item.describe(root)}"
    if before["state"] == "absent":
        root.remove(path)
        return f"removed {root.display(path)}"
    if before["state"] == "symlink":
        root.symlink_atomic(path, before["target"])
    else:
        if root.readlink(path) is not None:
            root.remove(path)
        root.write_atomic(path, root.read_bytes(before["backup"]), before["mode"])
    return f"restored {root.display(path)}"


def _describe(root: Root, change: Change) -> str:
    if isinstance(change, Symlink):
        return f"linked {root.display(change.relpath)} -> {change.target}"
    if isinstance(change, SetJsonKey):
        return f"set {'.'.join(change.key)} = {change.value!r} in {root.display(change.relpath)}"
    return f"wrote {root.display(change.relpath)}"


def _changed_by_user(root: Root, item: Item) -> str:
    return f"{item.describe(root)} was changed since fexpkg wrote it: left alone"


# -- apply and undo ---------------------------------------------------------------------------


def _ours(current: State, item: Item) -> bool:
    """True when the item's path holds what fexpkg wrote; or, the write pending, what it replaces.

    A pending write may replace what was there before fexpkg or, after an update of the package,
    what fexpkg wrote earlier (`replaced`; manifests of older fexpkg lack it).
    """
    if _same(current, item.wrote):
        return True
    pending = (item.before, item.replaced or item.before)
    return not item.done and any(_same(current, state) for state in pending)


def _changed_since(current: State, item: Item) -> bool:
    """True when someone changed the item's path since fexpkg wrote it (or set out to)."""
    return not _ours(current, item)


def _apply_change(root: Root, manifest: Manifest, change: Change, result: Result) -> None:
    fresh = Item.for_change(change)
    current = _current(root, fresh)
    item = manifest.items.get(change.id)
    step = decide(current, fresh.wrote, item)
    if step is Step.LEAVE_ALONE:
        result.warnings.append(_changed_by_user(root, item))
        return
    if item is None:  # first seen: record what was there before anything is written
        fresh.before = _capture_before(manifest, fresh, current)
        item = manifest.items[change.id] = fresh
    elif step is Step.NOTHING and item.wrote == fresh.wrote and item.done:
        return
    item.wrote, item.done, item.replaced = fresh.wrote, step is Step.NOTHING, None
    if step is Step.WRITE:
        item.replaced = current
        _add_dirs(item, root.missing_dirs(change.relpath))  # recorded before they exist
        manifest.save()
        _add_dirs(item, _write(root, change))
        item.done, item.replaced = True, None
        result.changes.append(_describe(root, change))
    manifest.save()


def _add_dirs(item: Item, dirs: list[str]) -> None:
    """Record directories made (or about to be made) for an item, each once, outermost first."""
    item.created_dirs += [d for d in dict.fromkeys(dirs) if d not in item.created_dirs]


def _remove_created_dirs(root: Root, manifest: Manifest, item: Item) -> None:
    """Remove the directories an undone item created, deepest first, each only if empty.

    A directory that still holds another item's path is handed to that item, to be removed with
    it; one that holds only what someone else put there is theirs now, and kept.
    """
    for path in reversed(item.created_dirs):
        if root.rmdir(path) or not root.lexists(path):
            continue
        heir = next((i for i in manifest.items.values() if i.path.startswith(path + "/")), None)
        if heir is not None:
            dirs = {*heir.created_dirs, path}
            heir.created_dirs = sorted(dirs, key=lambda p: (p.count("/"), p))


def _remove_backup(root: Root, backup: str) -> None:
    """Remove a backup copy and the directories under var/lib/fexpkg/backup left empty."""
    root.remove(backup)
    parent = posixpath.dirname(backup)
    while parent.startswith(BACKUP_DIR + "/") and root.rmdir(parent):
        parent = posixpath.dirname(parent)


def _undo_item(root: Root, manifest: Manifest, item: Item, result: Result) -> None:
    """Put back what was there before; an item changed by someone else is kept, with a warning."""
    try:
        current = _current(root, item)
        if not _same(current, item.before):
            if not _ours(current, item):
                result.warnings.append(_changed_by_user(root, item))
                return
            result.changes.append(_restore(root, item))
    except ConfigError as exc:
        result.warnings.append(f"{exc}: not undone, run teardown again once it is fixed")
        return
    if "backup" in item.before:
        _remove_backup(root, item.before["backup"])
    del manifest.items[item.id]
    _remove_created_dirs(root, manifest, item)
    manifest.save()


@dataclass(frozen=True)
class Pending:
    """What `apply_plan` would do to a root: changes it would make, items it would leave alone."""

    changes: list[str]
    left_alone: list[str]


def pending(plan: Plan) -> Pending:
    """Dry run of `apply_plan(plan)`, with its decisions: reads the root, writes nothing."""
    root = Root(plan.target.root)
    manifest = Manifest(root)
    wanted = {change.id for change in plan.changes}
    changes = [f"undo {i.describe(root)}" for i in manifest.items.values() if i.id not in wanted]
    left_alone = []
    for change in plan.changes:
        fresh = Item.for_change(change)
        item = manifest.items.get(change.id)
        step = decide(_current(root, fresh), fresh.wrote, item)
        if step is Step.LEAVE_ALONE:
            left_alone.append(_changed_by_user(root, item))
        elif step is Step.WRITE:
            changes.append(_describe(root, change))
    return Pending(changes, left_alone)


def apply_plan(plan: Plan) -> Result:
    """Bring the root to the plan's state; undo recorded items the plan no longer wants."""
    root = Root(plan.target.root)
    result = Result()
    with root.lock():
        manifest = Manifest(root)
        manifest.recover(change.relpath for change in plan.changes)
        wanted = {change.id for change in plan.changes}
        for item in reversed(list(manifest.items.values())):
            if item.id not in wanted:
                _undo_item(root, manifest, item, result)
        for change in plan.changes:
            try:
                _apply_change(root, manifest, change, result)
            except ConfigError as exc:
                result.warnings.append(str(exc))
    return result


def undo_all(root: Root) -> Result:
    """Undo everything the manifest records, newest first."""
    result = Result()
    with root.lock():
        manifest = Manifest(root)
        manifest.recover()
        for item in reversed(list(manifest.items.values())):
            _undo_item(root, manifest, item, result)
    return result
