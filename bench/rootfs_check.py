"""Benchmark: `fexpkg rootfs check IMAGE` against `fsck.erofs IMAGE` (integrity alone).

The image is synthetic and RootFS-shaped: the test RootFS tree (tests/fixtures/rootfs-tree, which
passes the check) plus --files more files in library-like directories, sizes from a few hundred
bytes to 40 KiB, half of them compressible, a symlink per ten files and an ld.so.cache listing
--libs of them (a Fedora RootFS's is about that size), made with `mkfs.erofs -zlz4` as Kiwi's
FEX-RootFS profile does. Both commands run as new processes on the same image in the same run;
fexpkg as installed: its console script's code under the system interpreter with the flags of
Fedora's shebangs (`python3 -sP`; the checkout's venv would add a start-up cost of this sandbox's,
see timing.installed_python), from a copy of src/ compiled to bytecode. After a warm-up of each
(which also fills the page cache) the runs alternate, and the script prints the medians and their
ratio (goal: at most 2).
Run: .venv/bin/python bench/rootfs_check.py [--files N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from timing import (
    CHECKOUT,
    alternate,
    compiled_src,
    describe,
    fexpkg_command,
    installed_env,
    process,
)

sys.path.insert(0, str(CHECKOUT / "src"))

from fexpkg.dev import repo  # noqa: E402
from fexpkg.rootfs import ldcache  # noqa: E402

SIZES = (300, 2_000, 9_000, 40_000)


def make_tree(dest: Path, files: int, libs: int) -> None:
    """The test RootFS tree plus `files` synthetic files and an ld.so.cache of `libs` of them."""
    shutil.copytree(repo.ROOTFS_TREE, dest, symlinks=True)
    rng = random.Random(42)
    words = [f"symbol_{i}".encode() for i in range(400)]
    entries = ldcache.parse((dest / "etc/ld.so.cache").read_bytes())
    for i in range(files):
        world = "lib64" if i % 2 else "lib"
        folder = dest / "usr" / world / f"pkg{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.choice(SIZES)
        if i % 2:
            data = b" ".join(rng.choice(words) for _ in range(size // 9))[:size]
        else:
            data = rng.randbytes(size)
        name = f"libsynth{i}.so.1"
        (folder / name).write_bytes(data)
        if i % 10 == 0:
            (folder / f"libsynth{i}.so").symlink_to(name)
        if i < libs:
            flags = ldcache.FLAG_ELF_LIBC6 | (ldcache.FLAG_X8664_LIB64 if i % 2 else 0)
            path = f"/usr/{world}/pkg{i // 100}/{name}"
            entries.append(ldcache.Entry(name, path, flags))
    (dest / "etc/ld.so.cache").write_bytes(ldcache.build(entries))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--libs", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if reason := repo.tool_missing() if shutil.which("fsck.erofs") else "fsck.erofs missing":
        print(f"skipped: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="fexpkg-bench-") as tmp:
        env = installed_env(compiled_src(Path(tmp)))
        tree, image = Path(tmp, "tree"), Path(tmp, "rootfs.erofs")
        make_tree(tree, args.files, args.libs)
        repo.make_erofs(image, tree)
        count = sum(len(d) + len(f) for _, d, f in os.walk(tree))
        print(f"image: {count} entries, {image.stat().st_size / 2**20:.0f} MiB")
        times = alternate(
            args.runs,
            {
                "fexpkg rootfs check": process(fexpkg_command("rootfs", "check", str(image)), env),
                "fsck.erofs": process(["fsck.erofs", str(image)]),
            },
        )
    print(describe(times))
    fexpkg, fsck = (statistics.median(t) for t in times.values())
    print(f"ratio of medians {fexpkg / fsck:.2f}x (goal <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
