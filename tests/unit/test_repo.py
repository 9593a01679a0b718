"""fexpkg.dev.repo without rpmbuild: input digests, skip logic, generated sources, publishing."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import pytest

from fexpkg.dev import repo
from fexpkg.errors import RepoError


def test_digest_changes_with_each_input() -> None:
    base = repo.inputs_digest(b"spec", [("a", b"1")], "macros")
    assert repo.inputs_digest(b"spec", [("a", b"1")], "macros") == base
    assert repo.inputs_digest(b"spec2", [("a", b"1")], "macros") != base
    assert repo.inputs_digest(b"spec", [("a", b"2")], "macros") != base
    assert repo.inputs_digest(b"spec", [("b", b"1")], "macros") != base
    assert repo.inputs_digest(b"spec", [("a", b"1")], "macros2") != base
    # Parts are length-prefixed: moving bytes between parts changes the digest.
    assert repo.inputs_digest(b"spec", [("a1", b"")], "macros") != repo.inputs_digest(
        b"spec", [("a", b"1")], "macros"
    )


def test_up_to_date_needs_same_digest_and_rpms(tmp_path: Path) -> None:
    build = repo.SpecBuild(tmp_path / "x.spec", tmp_path / "top", "abc")
    assert not build.up_to_date()
    (tmp_path / "top").mkdir()
    build.stamp.write_text("abc")
    assert not build.up_to_date()  # no RPMs left
    rpm_file = tmp_path / "top/RPMS/noarch/x-1-1.noarch.rpm"
    rpm_file.parent.mkdir(parents=True)
    rpm_file.write_bytes(b"rpm")
    assert build.up_to_date()
    assert not repo.SpecBuild(build.spec, build.topdir, "other").up_to_date()


def test_fexpkg_tarball_is_reproducible_and_skips_caches(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    for name in repo.FEXPKG_SOURCES:
        target = checkout / name
        if "." in Path(name).name:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(name)
        else:
            target.mkdir(parents=True)
            (target / "mod.py").write_text("x = 1\n")
            (target / "__pycache__").mkdir()
            (target / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    first, second = tmp_path / "a" / "fexpkg-1.0.tar.gz", tmp_path / "b" / "fexpkg-1.0.tar.gz"
    for dst in (first, second):
        dst.parent.mkdir()
        repo.make_fexpkg_tarball(dst, checkout)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first.read_bytes()))) as tar:
        names = tar.getnames()
    assert names[0] == "fexpkg-1.0"
    assert "fexpkg-1.0/src/fexpkg/mod.py" in names
    assert "fexpkg-1.0/src" in names
    assert not [n for n in names if "__pycache__" in n]
    # generated from the parser, as specs/fexpkg.spec installs them on a foreign host
    assert {
        "fexpkg-1.0/manual/man1/fexpkg.1",
        "fexpkg-1.0/manual/man1/fexpkg-doctor.1",
        "fexpkg-1.0/manual/completions/fexpkg",
        "fexpkg-1.0/manual/completions/_fexpkg",
        "fexpkg-1.0/manual/completions/fexpkg.fish",
    } <= set(names)
    assert names == sorted(names)


def test_fexpkg_tarball_needs_its_files(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="is missing: the fexpkg source tarball needs it"):
        repo.make_fexpkg_tarball(tmp_path / "fexpkg-1.tar.gz", tmp_path)


@pytest.mark.skipif(shutil.which("mkfs.erofs") is None, reason="mkfs.erofs missing")
def test_erofs_image_is_reproducible(tmp_path: Path) -> None:
    repo.make_erofs(tmp_path / "a.erofs")
    repo.make_erofs(tmp_path / "b.erofs")
    data = (tmp_path / "a.erofs").read_bytes()
    assert data == (tmp_path / "b.erofs").read_bytes()
    assert data[1024:1028] == bytes.fromhex("e2e1f5e0")


def test_missing_source_is_named(tmp_path: Path) -> None:
    spec = tmp_path / "x.spec"
    with pytest.raises(RepoError, match=r"^x.spec: source nothing.bin is neither in .*sources"):
        repo._provide_source(spec, "nothing.bin", tmp_path / "out")


def test_duplicate_spec_names_are_refused(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.spec").write_text("")
    with pytest.raises(RepoError, match="same name"):
        repo.find_specs([tmp_path / "a", tmp_path / "b"])


def test_publish_mirrors_the_rpm_list(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.rpm").write_bytes(b"a")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.rpm").write_bytes(b"s")
    assert repo.publish([src / "a.rpm"], out)
    assert sorted(p.name for p in out.glob("*.rpm")) == ["a.rpm"]
    assert not repo.publish([src / "a.rpm"], out)
