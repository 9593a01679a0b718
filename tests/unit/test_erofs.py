"""fexpkg.rootfs.erofs: the standard-library reader against mkfs.erofs images of known trees."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from fexpkg.errors import ErofsError
from fexpkg.rootfs import erofs

pytestmark = pytest.mark.skipif(shutil.which("mkfs.erofs") is None, reason="no mkfs.erofs")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files of every size class (inline, block-sized, many lclusters), random and repetitive."""
    top = tmp_path_factory.mktemp("erofs") / "tree"
    rng = random.Random(7)
    for i, size in enumerate([0, 5, 100, 4095, 4096, 4097, 9000, 70_000, 300_000] * 4):
        folder = top / ("a" if i % 2 else "a/b")
        folder.mkdir(parents=True, exist_ok=True)
        if i % 3 == 0:
            data = rng.randbytes(size)
        elif i % 3 == 1:
            data = bytes(rng.choice(b"abcdefgh ") for _ in range(size))
        else:
            data = (b"line %d of a repetitive file\n" % i) * (size // 28)
        (folder / f"f{i}").write_bytes(data)
    (top / "a/link").symlink_to("../a/f1")
    (top / "a/ünïcode").write_text("named in UTF-8\n")
    (top / os.fsdecode(b"a/not-utf8-\xff")).write_text("named in no encoding\n")
    os.mkfifo(top / "fifo")
    (top / "a/f3").chmod(0o4755)
    return top


@pytest.mark.parametrize(
    "options",
    [[], ["-zlz4"], ["-zlz4", "-Elegacy-compress"], ["-Eforce-inode-extended"]],
    ids=str,
)
def test_walk_and_read_match_the_tree(tree: Path, tmp_path: Path, options: list[str]) -> None:
    image = tmp_path / "t.erofs"
    subprocess.run(["mkfs.erofs", "--quiet", *options, str(image), str(tree)], check=True)
    with erofs.Image(image) as img:
        seen = {}
        for parent, names, nids, kinds in img.directories():
            setid = [names[i] for i in img.setid(nids)]
            for name, nid, kind in zip(names, nids, kinds, strict=True):
                path = f"{parent}/{name}" if parent else name
                seen[path] = kind
                host = tree / path
                assert img.inode(nid).mode == host.lstat().st_mode, path
                assert (name in setid) == bool(host.lstat().st_mode & 0o6000), path
                if kind == "f":
                    assert img.read(nid) == host.read_bytes(), path
                elif kind == "l":
                    assert img.link(nid) == os.readlink(host)
    expected = {str(p.relative_to(tree)) for p in tree.rglob("*")}
    assert set(seen) == expected
    assert seen["fifo"] == "p" and seen["a/link"] == "l" and seen["a/b"] == "d"


def test_not_an_image(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.erofs"
    bogus.write_bytes(b"\0" * 4096)
    with pytest.raises(ErofsError, match="not an EroFS image"):
        erofs.Image(bogus)


def test_lz4_overlapping_match() -> None:
    # literal "ab", then a match of length 6 at offset 2 (overlapping): "ababababab"... truncated
    assert erofs.lz4_block(bytes([0x22]) + b"ab" + bytes([2, 0]), 8) == b"abababab"
