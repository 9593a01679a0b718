"""binfmt_misc entries, binfmt.d files as systemd-binfmt applies them, the live interface."""

from __future__ import annotations

import errno
import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from fexpkg.confined import Root
from fexpkg.errors import BinfmtError

log = logging.getLogger(__name__)

# systemd-binfmt's directories, highest precedence first (same file name: /etc wins).
BINFMT_DIRS = ("etc/binfmt.d", "run/binfmt.d", "usr/lib/binfmt.d")
BINFMT_MISC = Path("/proc/sys/fs/binfmt_misc")
FLAGS = "POCF"
_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{1,2})")
_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _unescape(text: str) -> bytes:
    """Decode `\\xNN` escapes the way the kernel does (UNESCAPE_HEX); other bytes stay."""
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))


def _escape(data: bytes) -> str:
    """Escape every byte but letters and digits, as FEX, qemu and binfmt-dispatcher files do."""
    return "".join(chr(b) if b in _PLAIN else f"\\x{b:02x}" for b in data)


@dataclass(frozen=True)
class BinfmtEntry:
    """One binfmt_misc registration: `:name:type:offset:magic:mask:interpreter:flags`."""

    name: str
    type: str
    offset: int
    magic: bytes
    mask: bytes
    interpreter: str
    flags: str

    @classmethod
    def parse_line(cls, line: str) -> BinfmtEntry:
        """Parse a registration line; BinfmtError quoting the line when it is invalid."""
        text = line.strip()

        def bad(reason: str) -> BinfmtError:
            return BinfmtError(f"invalid binfmt_misc line '{text}': {reason}")

        if len(text) < 2:
            raise bad("too short")
        fields = text[1:].split(text[0])
        if len(fields) == 6:
            fields.append("")
        if len(fields) != 7:
            raise bad(f"expected 7 fields separated by {text[0]!r}, got {len(fields)}")
        name, kind, offset, magic, mask, interpreter, flags = fields
        if not name or "/" in name or name in (".", "..", "register", "status"):
            raise bad(f"bad name {name!r}")
        if kind not in ("M", "E"):
            raise bad(f"type {kind!r} is neither M (magic) nor E (extension)")
        if kind == "E" and (offset or mask):
            raise bad("an E (extension) entry has no offset nor mask")
        try:
            offset_value = int(offset or "0")
        except ValueError:
            raise bad(f"offset {offset!r} is not a number") from None
        magic_bytes, mask_bytes = _unescape(magic), _unescape(mask)
        if not magic_bytes:
            raise bad("empty magic")
        if mask_bytes and len(mask_bytes) != len(magic_bytes):
            raise bad(f"mask is {len(mask_bytes)} bytes, magic {len(magic_bytes)}")
        if not interpreter:
            raise bad("no interpreter")
        if set(flags) - set(FLAGS):
            raise bad(f"unknown flags in {flags!r} (allowed: {FLAGS})")
        return cls(name, kind, offset_value, magic_bytes, mask_bytes, interpreter, flags)

    def format(self) -> str:
        """The registration line (no newline); round-trips FEX's own lines byte for byte."""
        if self.type == "E":
            return f":{self.name}:E::{self.magic.decode()}::{self.interpreter}:{self.flags}"
        return (
            f":{self.name}:M:{self.offset}:{_escape(self.magic)}:{_escape(self.mask)}"
            f":{self.interpreter}:{self.flags}"
        )

    def matches(self, header: bytes) -> bool:
        """True when a file starting with `header` is handled by this (magic) entry."""
        if self.type != "M":
            return False
        chunk = header[self.offset : self.offset + len(self.magic)]
        if len(chunk) < len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((c ^ m) & k == 0 for c, m, k in zip(chunk, self.magic, mask, strict=True))


def elf_header(arch: str) -> bytes:
    """A minimal ELF header (ET_EXEC) for `x86` (ELF32, EM_386) or `x86_64` (ELF64, EM_X86_64)."""
    if arch == "x86":
        ident = b"\x7fELF\x01\x01\x01" + bytes(9)
        return ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0, 0, 0, 0, 52, 0, 0, 0, 0, 0)
    if arch == "x86_64":
        ident = b"\x7fELF\x02\x01\x01" + bytes(9)
        return ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0)
    raise ValueError(f"unknown arch {arch!r}")


# -- binfmt.d -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinfmtFile:
    """The file systemd-binfmt uses for one name, after precedence; masked files included."""

    name: str
    relpath: str
    masked: bool


@dataclass(frozen=True)
class AppliedEntry:
    """An entry registered by systemd-binfmt from a binfmt.d file."""

    entry: BinfmtEntry
    relpath: str
    lineno: int


def is_mask(root: Root, relpath: str) -> bool:
    """True when a binfmt.d file is masked: a symlink to /dev/null."""
    return root.readlink(relpath) == "/dev/null"


def binfmt_files(root: Root) -> list[BinfmtFile]:
    """The binfmt.d file in effect for each name, in the lexical order systemd applies them."""
    chosen: dict[str, str] = {}
    for directory in reversed(BINFMT_DIRS):
        for name in root.listdir(directory):
            if name.endswith(".conf"):
                chosen[name] = f"{directory}/{name}"
    return [
        BinfmtFile(name, relpath, is_mask(root, relpath))
        for name, relpath in sorted(chosen.items())
    ]


def read_entries(root: Root, relpath: str) -> list[tuple[int, BinfmtEntry]]:
    """Entries of one binfmt.d file with their line numbers; invalid lines are logged, skipped."""
    try:
        text = root.read_bytes(relpath).decode("utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return []
    entries = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        try:
            entries.append((lineno, BinfmtEntry.parse_line(stripped)))
        except BinfmtError as exc:
            log.warning("%s:%d: %s", root.display(relpath), lineno, exc)
    return entries


def effective_handlers(root: Root) -> list[AppliedEntry]:
    """Entries systemd-binfmt registers from a root's binfmt.d, in registration order.

    systemd-binfmt unregisters a name before registering it, so a name seen again moves last.
    """
    applied: dict[str, AppliedEntry] = {}
    for file in binfmt_files(root):
        if file.masked:
            continue
        for lineno, entry in read_entries(root, file.relpath):
            applied.pop(entry.name, None)
            applied[entry.name] = AppliedEntry(entry, file.relpath, lineno)
    return list(applied.values())


def handler_for(header: bytes, entries: list[AppliedEntry]) -> AppliedEntry | None:
    """The entry the kernel picks for a file: the most recently registered one matching."""
    for applied in reversed(entries):
        if applied.entry.matches(header):
            return applied
    return None


# -- live binfmt_misc -----------------------------------------------------------------------


@dataclass(frozen=True)
class LiveEntry:
    """A registered binfmt_misc entry as /proc/sys/fs/binfmt_misc/NAME reports it."""

    entry: BinfmtEntry
    enabled: bool


def parse_status(name: str, text: str) -> LiveEntry:
    """Parse a binfmt_misc entry file (`enabled`, `interpreter X`, `flags: PF`, `magic 7f45...`)."""
    fields: dict[str, str] = {}
    lines = text.splitlines()
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    if "extension" in fields:
        kind, magic, mask = "E", fields["extension"].lstrip(".").encode(), b""
    else:
        kind, magic, mask = (
            "M",
            bytes.fromhex(fields.get("magic", "")),
            bytes.fromhex(fields.get("mask", "")),
        )
    entry = BinfmtEntry(
        name=name,
        type=kind,
        offset=int(fields.get("offset", "0")),
        magic=magic,
        mask=mask,
        interpreter=fields.get("interpreter", ""),
        flags=fields.get("flags", ""),
    )
    return LiveEntry(entry, enabled=bool(lines) and lines[0].strip() == "enabled")


class BinfmtMisc:
    """The kernel's binfmt_misc interface at `path`.

    The directory is opened on first use and kept: an instance opened before a chroot keeps
    working inside it, and with flag F the interpreter is then opened inside the chroot.
    """

    def __init__(self, path: Path = BINFMT_MISC) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def _unavailable(self, exc: OSError) -> BinfmtError:
        return BinfmtError(
            f"binfmt_misc is not available at {self.path} ({exc.strerror}): "
            f"mount it with `mount -t binfmt_misc binfmt_misc {self.path}`"
        )

    def _dir(self) -> int:
        if self._fd is None:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as exc:
                raise self._unavailable(exc) from exc
            try:
                os.stat("register", dir_fd=fd)
            except OSError as exc:
                os.close(fd)
                raise self._unavailable(exc) from exc
            self._fd = fd
        return self._fd

    def available(self) -> bool:
        """True when binfmt_misc is mounted at `path`."""
        try:
            self._dir()
        except BinfmtError:
            return False
        return True

    def _write(self, name: str, data: bytes) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=self._dir())
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def registered(self) -> dict[str, LiveEntry]:
        """Every registered entry by name."""
        fd = self._dir()
        result = {}
        try:
            for name in sorted(os.listdir(fd)):
                if name in ("register", "status"):
                    continue
                try:
                    entry_fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    continue  # unregistered meanwhile
                with os.fdopen(entry_fd) as f:
                    result[name] = parse_status(name, f.read())
        except OSError as exc:
            raise BinfmtError(f"cannot read {self.path}: {exc.strerror}") from exc
        return result

    def register(self, entry: BinfmtEntry) -> None:
        """Register an entry; it becomes the first the kernel tries."""
        try:
            self._write("register", (entry.format() + "\n").encode())
        except OSError as exc:
            hint = {
                errno.EEXIST: "it is already registered",
                errno.ENOENT: f"{entry.interpreter} does not exist",
            }.get(exc.errno or 0, exc.strerror)
            raise BinfmtError(f"cannot register binfmt_misc entry {entry.name}: {hint}") from exc

    def unregister(self, name: str) -> bool:
        """Remove an entry (`echo -1 > NAME`); False when it was not registered."""
        try:
            self._write(name, b"-1")
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise BinfmtError(
                f"cannot unregister binfmt_misc entry {name}: {exc.strerror}"
            ) from exc
        return True
