"""Safe access to a target root: the only code that writes into one.

Paths are root-relative. Symlinks are followed as if the root were `/` (a chroot): an absolute
link target starts again at the root and `..` never climbs above it. The walk opens each directory
with O_NOFOLLOW relative to its parent's fd, so no step can leave the root, even if the tree
changes underneath. Writes are atomic: an unnamed (O_TMPFILE) or temporary file in the same
directory, fsync, rename, fsync of the directory; the temporary names a killed writer may leave are
recognised by `sweep`. Writes report the directories they had to create (root-relative,
outermost first), so that whoever records a change can remove them again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import logging
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from fexpkg.errors import RootWriteError, UnsafePathError

TYPE_CHECKING = False  # importing typing costs start-up: only checkers read it
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _T = TypeVar("_T")

log = logging.getLogger(__name__)

MAX_SYMLINKS = 40
#: What to do about a failed write, by errno; other causes are named by the system's message.
_WRITE_HINTS = {
    errno.ENOSPC: "no space left on the file system: free some and run again",
    errno.EDQUOT: "disk quota exceeded: free some and run again",
    errno.EROFS: "read-only file system: remount it read-write and run again",
    errno.EACCES: "permission denied: run as root",
    errno.EPERM: "operation not permitted: run as root",
}
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _writes(method: Callable[..., _T]) -> Callable[..., _T]:
    """Make a write's OSError a RootWriteError: one line naming the file and the cause."""

    @functools.wraps(method)
    def write(self: Root, relpath: str, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, relpath, *args, **kwargs)
        except OSError as exc:
            cause = _WRITE_HINTS.get(exc.errno or 0) or exc.strerror or str(exc)
            raise RootWriteError(f"cannot write {self.display(relpath)}: {cause}") from exc

    return write


def replace_file(path: Path, data: bytes) -> None:
    """Replace the file at a path the user gave (comps, kickstart) atomically, keeping its mode."""
    path = Path(os.path.abspath(path))
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    Root("/").write_atomic(str(path), data, mode)


class Root:
    """A directory tree treated as `/` (an installroot, an image tree or the host itself)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Root({str(self.path)!r})"

    def display(self, relpath: str) -> str:
        """The host path of `relpath` for messages (not resolved)."""
        return str(self.path / relpath.lstrip("/"))

    # -- resolution ---------------------------------------------------------------------------

    def _walk(
        self, relpath: str, *, follow: bool, create: bool, created: list[str] | None = None
    ) -> tuple[int, str, list[str]]:
        """Open the directory holding relpath's last component; return (fd, name, dir names).

        The caller owns the fd. `name` is '.' when the path resolves to a directory itself.
        With `create`, missing directories are made and appended to `created` (root-relative).
        """
        stack = [os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        names: list[str] = []
        todo = deque(_parts(relpath))
        links = 0
        try:
            while todo:
                part = todo.popleft()
                if part == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                        names.pop()
                    continue
                target = None if (not todo and not follow) else _readlink(stack[-1], part)
                if target is not None:
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise UnsafePathError(
                            f"{self.display(relpath)}: too many levels of symbolic links"
                        )
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop())
                            names.pop()
                    todo.extendleft(reversed(_parts(target)))
                    continue
                if not todo:
                    return stack.pop(), part, names
                try:
                    fd = self._open_dir(stack[-1], part, relpath)
                except FileNotFoundError:
                    if not create:
                        raise
                    if _mkdir(stack[-1], part, 0o755) and created is not None:
                        created.append("/".join([*names, part]))
                    fd = self._open_dir(stack[-1], part, relpath)
                stack.append(fd)
                names.append(part)
            return stack.pop(), ".", names
        finally:
            for fd in stack:
                os.close(fd)

    def _open_dir(self, parent: int, name: str, relpath: str) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            raise UnsafePathError(
                f"{self.display(relpath)}: {name} is not a directory; fix or remove it"
            ) from exc

    @contextlib.contextmanager
    def _at(
        self,
        relpath: str,
        *,
        follow: bool = True,
        create: bool = False,
        created: list[str] | None = None,
    ) -> Iterator[tuple[int, str]]:
        fd, name, _ = self._walk(relpath, follow=follow, create=create, created=created)
        try:
            yield fd, name
        finally:
            os.close(fd)

    def resolve(self, relpath: str) -> str:
        """The root-relative path `relpath` resolves to (symlinks followed inside the root)."""
        fd, name, names = self._walk(relpath, follow=True, create=False)
        os.close(fd)
        return "/".join([*names, name] if name != "." else names)

    # -- reading ------------------------------------------------------------------------------

    def read_bytes(self, relpath: str) -> bytes:
        """Content of a file; FileNotFoundError when it is missing."""
        with self._at(relpath) as (dir_fd, name):
            fd = _open_nofollow(dir_fd, name, os.O_RDONLY, self.display(relpath))
            with os.fdopen(fd, "rb") as f:
                return f.read()

    def readlink(self, relpath: str) -> str | None:
        """Target of a symlink, None when it is not one or is missing."""
        try:
            with self._at(relpath, follow=False) as (dir_fd, name):
                return _readlink(dir_fd, name)
        except (FileNotFoundError, UnsafePathError):
            return None

    def stat(self, relpath: str, *, follow: bool = True) -> os.stat_result | None:
        """stat (or lstat) of a path inside the root, None when it is missing or unreachable."""
        try:
            with self._at(relpath, follow=follow) as (dir_fd, name):
                return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError, UnsafePathError):
            return None

    def exists(self, relpath: str) -> bool:
        """True when the path exists (symlinks followed, a dangling one does not)."""
        return self.stat(relpath) is not None

    def lexists(self, relpath: str) -> bool:
        """True when the path exists, a dangling symlink included."""
        return self.stat(relpath, follow=False) is not None

    def read_only(self, relpath: str) -> bool:
        """True when the path (symlinks followed) is on a file system mounted read-only."""
        try:
            with self._at(relpath) as (dir_fd, name):
                fd = os.open(name, os.O_PATH | os.O_CLOEXEC, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError, UnsafePathError):
            return False
        try:
            return bool(os.statvfs(fd).f_flag & os.ST_RDONLY)
        finally:
            os.close(fd)

    def listdir(self, relpath: str) -> list[str]:
        """Names in a directory, [] when it is missing or not a directory."""
        try:
            with self._at(relpath) as (dir_fd, name):
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError, UnsafePathError):
            return []  # a symlink there now: O_DIRECTORY | O_NOFOLLOW fails with ENOTDIR too
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    # -- writing ------------------------------------------------------------------------------

    @_writes
    def makedirs(self, relpath: str, mode: int = 0o755) -> list[str]:
        """Create a directory and its parents inside the root; return those it created."""
        created: list[str] = []
        fd, name, names = self._walk(relpath, follow=True, create=True, created=created)
        try:
            if name != ".":
                if _mkdir(fd, name, mode):
                    created.append("/".join([*names, name]))
                os.close(self._open_dir(fd, name, relpath))
        finally:
            os.close(fd)
        return created

    @_writes
    def write_atomic(self, relpath: str, data: bytes, mode: int = 0o644) -> list[str]:
        """Replace a file's content atomically; parents are created, a final symlink followed.

        The content is written to an unnamed file (O_TMPFILE) where the file system allows it,
        named only for the instant between link and rename; else to a temporary name that
        `sweep` recognises. Returns the directories created for it, outermost first.
        """
        created: list[str] = []
        with self._at(relpath, create=True, created=created) as (dir_fd, name):
            tmp = _temporary_name(name)
            fd = _unnamed_file(dir_fd)
            if fd is not None:
                try:
                    _fill(fd, data, mode)
                    linked = _link_unnamed(fd, dir_fd, tmp)
                finally:
                    os.close(fd)
                if linked:
                    _replace(dir_fd, tmp, name)
                    return created
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)

            def fill() -> None:
                try:
                    _fill(fd, data, mode)
                finally:
                    os.close(fd)

            _replace(dir_fd, tmp, name, fill)
        return created

    @_writes
    def symlink_atomic(self, relpath: str, target: str) -> list[str]:
        """Make `relpath` a symlink to `target`, replacing what is there (the link itself).

        Returns the directories created for it, root-relative, outermost first.
        """
        created: list[str] = []
        with self._at(relpath, follow=False, create=True, created=created) as (dir_fd, name):
            tmp = _temporary_name(name)
            os.symlink(target, tmp, dir_fd=dir_fd)
            _replace(dir_fd, tmp, name)
        return created

    def missing_dirs(self, relpath: str) -> list[str]:
        """The directories writing `relpath` would create, root-relative, outermost first."""
        parts = _parts(relpath)[:-1]
        for i in range(len(parts)):
            if self.stat("/".join(parts[: i + 1])) is None:
                base = _parts(self.resolve("/".join(parts[:i])))
                return ["/".join([*base, *parts[i : j + 1]]) for j in range(i, len(parts))]
        return []

    @_writes
    def rename(self, relpath: str, new: str) -> None:
        """Rename a path (neither side followed if a symlink) inside the root, atomically."""
        with (
            self._at(relpath, follow=False) as (src_fd, name),
            self._at(new, follow=False) as (dst_fd, new_name),
        ):
            os.rename(name, new_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            os.fsync(dst_fd)
            os.fsync(src_fd)

    def sweep(self, relpath: str) -> list[str]:
        """Remove what a killed fexpkg left in a directory under temporary names; return them.

        Only names fexpkg gives its temporary files match: `.NAME.fexpkg-` and 8 hex digits.
        """
        removed = []
        for name in self.listdir(relpath):
            if _TEMPORARY.fullmatch(name):
                path = f"{relpath.rstrip('/')}/{name}" if relpath.strip("/") else name
                if self.remove(path):
                    log.debug("removed %s, left by an interrupted fexpkg", self.display(path))
                    removed.append(path)
        return removed

    @_writes
    def remove(self, relpath: str) -> bool:
        """Remove a file or symlink (not followed); False when it was already missing."""
        try:
            with self._at(relpath, follow=False) as (dir_fd, name):
                os.unlink(name, dir_fd=dir_fd)
                os.fsync(dir_fd)
        except FileNotFoundError:
            return False
        return True

    @_writes
    def rmdir(self, relpath: str) -> bool:
        """Remove an empty directory (a final symlink is not followed); True when removed.

        False, and nothing touched, when it is missing, not a directory or not empty.
        """
        try:
            with self._at(relpath, follow=False) as (dir_fd, name):
                if name == ".":
                    return False
                os.rmdir(name, dir_fd=dir_fd)
                os.fsync(dir_fd)
        except (FileNotFoundError, NotADirectoryError, UnsafePathError):
            return False
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                return False
            raise
        return True

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the root's fexpkg lock, waiting for it if taken.

        The lock is a flock on the root directory itself, so taking it writes nothing into the root.
        """
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning(
                    "waiting for the fexpkg lock on %s: another fexpkg is working on this root",
                    self.path,
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


_TEMPORARY = re.compile(r"\..+\.fexpkg-[0-9a-f]{8}")


def _temporary_name(name: str) -> str:
    return f".{name}.fexpkg-{os.urandom(4).hex()}"  # secrets.token_hex(4), without its imports


def _fill(fd: int, data: bytes, mode: int) -> None:
    """Write `data` to a new file's fd, set its mode and fsync it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fchmod(fd, mode)
    os.fsync(fd)


def _unnamed_file(dir_fd: int) -> int | None:
    """An O_TMPFILE fd in the directory, None where the file system (or kernel) has none."""
    try:
        return os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None
        raise


def _link_unnamed(fd: int, dir_fd: int, name: str) -> bool:
    """Give an O_TMPFILE file a name through /proc; False when /proc is not mounted."""
    try:
        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
    except FileNotFoundError:  # the directory is open: only the /proc path can be missing
        return False
    return True


def _replace(dir_fd: int, tmp: str, name: str, prepare: Callable[[], None] = lambda: None) -> None:
    """Finish `tmp` with `prepare`, rename it over `name`, fsync the dir; on error remove tmp."""
    try:
        prepare()
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def _readlink(dir_fd: int, name: str) -> str | None:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return None
        raise


def _mkdir(dir_fd: int, name: str, mode: int) -> bool:
    """Make a directory; False when something already has that name."""
    try:
        os.mkdir(name, mode, dir_fd=dir_fd)
    except FileExistsError:
        return False
    return True


def _open_nofollow(dir_fd: int, name: str, flags: int, display: str) -> int:
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{display} changed into a symlink while in use") from exc
        raise
