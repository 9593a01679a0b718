"""glibc's `/etc/ld.so.cache`: parse the "glibc-ld.so.cache1.1" format (glibc >= 2.32 writes only
this one; older caches put it after an "ld.so-1.7.0" section, also read).

Layout (glibc sysdeps/generic/dl-cache.h): a 48-byte header (magic, version, nlibs, string table
length, flags, extension offset), nlibs 24-byte entries (flags, key, value, osversion, hwcap),
then the strings; key (the soname) and value (the path) are offsets from the header's start.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from fexpkg.errors import LdCacheError

MAGIC_OLD = b"ld.so-1.7.0\0"
MAGIC_NEW = b"glibc-ld.so.cache1.1"
_OLD_HEADER = struct.Struct("<12sI")
_OLD_ENTRY_SIZE = 12
HEADER = struct.Struct("<20sIIB3xI12x")
ENTRY = struct.Struct("<iIIIQ")
FLAG_ELF_LIBC6 = 0x0003
FLAG_X8664_LIB64 = 0x0300
FLAG_ARCH_MASK = 0xFF00


class Entry(NamedTuple):
    """One library of the cache: soname, path, and whether it is an x86-64 (lib64) one."""

    soname: str
    path: str
    flags: int

    @property
    def x86_64(self) -> bool:
        return self.flags & FLAG_ARCH_MASK == FLAG_X8664_LIB64


def parse(data: bytes) -> list[Entry]:
    """The entries of an ld.so.cache; LdCacheError when it is not one."""
    start = 0
    if data.startswith(MAGIC_OLD):
        _, nlibs = _OLD_HEADER.unpack_from(data)
        start = (_OLD_HEADER.size + nlibs * _OLD_ENTRY_SIZE + 7) // 8 * 8
    if data[start : start + len(MAGIC_NEW)] != MAGIC_NEW or len(data) < start + HEADER.size:
        raise LdCacheError('not a glibc ld.so.cache in the "glibc-ld.so.cache1.1" format')
    _, nlibs, _strings, _flags, _ext = HEADER.unpack_from(data, start)
    if start + HEADER.size + nlibs * ENTRY.size > len(data):
        raise LdCacheError(f"truncated: {nlibs} entries announced, the file is shorter")
    table = start + HEADER.size
    return [
        Entry(_string(data, start + key), _string(data, start + value), flags)
        for flags, key, value, _, _ in ENTRY.iter_unpack(data[table : table + nlibs * ENTRY.size])
    ]


def _string(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    if offset >= len(data) or end < 0:
        raise LdCacheError(f"string offset {offset} is outside the file")
    return data[offset:end].decode("utf-8", "surrogateescape")


def build(entries: list[Entry]) -> bytes:
    """An ld.so.cache in the new format holding entries (as ldconfig writes it, without hwcaps).

    For the test RootFS's stand-in cache, the tests and the benchmark.
    """
    strings = bytearray()
    offsets: dict[str, int] = {}
    base = HEADER.size + len(entries) * ENTRY.size
    for text in (s for e in entries for s in (e.soname, e.path)):
        if text not in offsets:
            offsets[text] = base + len(strings)
            strings += text.encode("utf-8", "surrogateescape") + b"\0"
    out = bytearray(HEADER.pack(MAGIC_NEW, len(entries), len(strings), 0, 0))
    for e in entries:
        out += ENTRY.pack(e.flags, offsets[e.soname], offsets[e.path], 0, 0)
    return bytes(out + strings)
