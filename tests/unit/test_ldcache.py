"""fexpkg.rootfs.ldcache: glibc's ld.so.cache format."""

from __future__ import annotations

from pathlib import Path

import pytest

from fexpkg.errors import LdCacheError
from fexpkg.rootfs import ldcache

TREE_CACHE = Path(__file__).resolve().parents[1] / "fixtures/rootfs-tree/etc/ld.so.cache"


def test_build_and_parse_round_trip() -> None:
    entries = [
        ldcache.Entry("libc.so.6", "/usr/lib64/libc.so.6", 0x0303),
        ldcache.Entry("libc.so.6", "/usr/lib/libc.so.6", 0x0003),
    ]
    parsed = ldcache.parse(ldcache.build(entries))
    assert parsed == entries
    assert [e.x86_64 for e in parsed] == [True, False]


def test_old_section_before_the_new_format_is_skipped() -> None:
    new = ldcache.build([ldcache.Entry("libm.so.6", "/usr/lib64/libm.so.6", 0x0303)])
    old = ldcache.MAGIC_OLD + (1).to_bytes(4, "little") + bytes(12)
    padded = old + bytes(-len(old) % 8)
    # string offsets of the new format are relative to its own header
    assert ldcache.parse(padded + new)[0].path == "/usr/lib64/libm.so.6"


def test_the_host_cache_parses_when_it_is_glibc_s() -> None:
    host = Path("/etc/ld.so.cache")
    if not host.exists() or ldcache.MAGIC_NEW not in host.read_bytes()[:64]:
        pytest.skip("no glibc ld.so.cache in the new format on this host")
    entries = ldcache.parse(host.read_bytes())
    assert any(e.soname == "libc.so.6" for e in entries)


def test_the_test_rootfs_cache_lists_both_worlds_libc() -> None:
    entries = ldcache.parse(TREE_CACHE.read_bytes())
    assert {(e.path, e.x86_64) for e in entries if e.soname == "libc.so.6"} == {
        ("/usr/lib64/libc.so.6", True),
        ("/usr/lib/libc.so.6", False),
    }


@pytest.mark.parametrize(
    "data", [b"", b"ld.so-1.7.0\0" + bytes(8), b"glibc-ld.so.cache1.0" + bytes(40)]
)
def test_not_a_cache(data: bytes) -> None:
    with pytest.raises(LdCacheError):
        ldcache.parse(data)


def test_truncated() -> None:
    data = ldcache.build([ldcache.Entry("libc.so.6", "/usr/lib64/libc.so.6", 0x0303)])
    with pytest.raises(LdCacheError, match="truncated"):
        ldcache.parse(data[: ldcache.HEADER.size + 4])
