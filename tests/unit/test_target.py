"""Page size detection and the mode it implies."""

import logging
import os
from pathlib import Path

import pytest

from fexpkg.errors import FexpkgError
from fexpkg.system import actions, target
from fexpkg.system.target import (
    Mode,
    PageSize,
    PageSizeOrigin,
    Target,
    detect_page_size,
    page_size_of,
)


def test_mode_follows_page_size(tmp_path):
    assert Target(tmp_path, 4096).mode is Mode.NATIVE
    assert Target(tmp_path, 16384).mode is Mode.MUVM
    assert Target(tmp_path, 65536).mode is Mode.MUVM


def test_is_host(tmp_path):
    assert Target(Path("/"), 4096).is_host
    assert not Target(tmp_path, 4096).is_host


def test_explicit_wins_over_env_and_kernel(tmp_path):
    (tmp_path / "usr/lib/modules/6.17.1-300.fc42.aarch64+16k").mkdir(parents=True)
    env = {"FEXPKG_PAGE_SIZE": "65536"}
    assert detect_page_size(tmp_path, "4096", env) == 4096
    assert detect_page_size(tmp_path, 16384, env) == 16384


def test_detect_page_size_logs_its_source(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger=target.__name__)
    assert detect_page_size(tmp_path, None, {}, ["kernel-64k-core"]) == 65536
    assert caplog.messages == [f"page size 65536 (from kernel-64k in {tmp_path})"]


def test_auto_and_none_mean_not_set(tmp_path):
    assert detect_page_size(tmp_path, "auto", {"FEXPKG_PAGE_SIZE": "65536"}) == 65536
    assert detect_page_size(tmp_path, None, {"FEXPKG_PAGE_SIZE": "auto"}) == 4096


@pytest.mark.parametrize("bad", ["8192", "lots", 0])
def test_bad_value_is_named(tmp_path, bad):
    with pytest.raises(FexpkgError) as info:
        detect_page_size(tmp_path, bad, {})
    assert str(info.value) == (
        f"invalid page size {bad!r} (--page-size): use one of 4096, 16384, 65536 or auto"
    )


def test_bad_env_value_is_named(tmp_path):
    with pytest.raises(FexpkgError) as info:
        detect_page_size(tmp_path, None, {"FEXPKG_PAGE_SIZE": "4k"})
    assert str(info.value) == (
        "invalid page size '4k' (FEXPKG_PAGE_SIZE): use one of 4096, 16384, 65536 or auto"
    )


def test_sources_of_explicit_and_environment_sizes(tmp_path):
    assert page_size_of(tmp_path, "16384", {}) == target.PageSize(16384, PageSizeOrigin.EXPLICIT)
    env = {"FEXPKG_PAGE_SIZE": "65536"}
    assert page_size_of(tmp_path, None, env) == target.PageSize(65536, PageSizeOrigin.ENVIRONMENT)


@pytest.mark.parametrize(
    ("names", "size"),
    [
        (["kernel-16k-core", "bash"], 16384),
        (["kernel-64k"], 65536),
        (["kernel", "kernel-core"], 4096),
    ],
)
def test_kernel_packages(tmp_path, names, size):
    found = page_size_of(tmp_path, env={}, kernel_packages=names)
    assert found.value == size
    if size != 4096:
        assert found.source == f"from kernel-{size // 1024}k in {tmp_path}"


@pytest.mark.parametrize(
    ("modules", "size"),
    [
        (["6.17.1-300.fc42.aarch64+16k"], 16384),
        (["6.17.1-300.fc42.aarch64+64k"], 65536),
        (["6.17.1-300.fc42.aarch64"], 4096),
        ([], 4096),
    ],
)
def test_modules_dirs(tmp_path, modules, size):
    for name in modules:
        (tmp_path / "usr/lib/modules" / name).mkdir(parents=True)
    found = page_size_of(tmp_path, env={})
    assert found.value == size
    assert str(tmp_path) in found.source


def test_host_uses_running_kernel():
    found = page_size_of(Path("/"), env={})
    assert found == PageSize(os.sysconf("SC_PAGE_SIZE"), PageSizeOrigin.RUNNING_KERNEL)
    assert (found.source, found.origin.chosen) == ("from the running kernel", False)


def _as_host(monkeypatch, tmp_path, booted: bool) -> Path:
    """Make tmp_path stand for `/`, on a booted system or in an image-build chroot."""
    marker = tmp_path / "run-systemd-system"
    if booted:
        marker.mkdir()
    monkeypatch.setattr(target, "is_host", lambda root: True)
    monkeypatch.setattr(target, "BOOTED_MARKER", marker)
    root = tmp_path / "root"
    (root / "usr/lib/modules/6.17.1-300.fc42.aarch64+16k").mkdir(parents=True)
    return root


def test_booted_host_follows_its_running_kernel(monkeypatch, tmp_path):
    root = _as_host(monkeypatch, tmp_path, booted=True)
    assert page_size_of(root, env={}) == target.PageSize(
        os.sysconf("SC_PAGE_SIZE"), PageSizeOrigin.RUNNING_KERNEL
    )


def test_image_build_chroot_follows_the_installed_kernel(monkeypatch, tmp_path):
    root = _as_host(monkeypatch, tmp_path, booted=False)
    found = page_size_of(root, env={})
    assert found.value == 16384
    assert found.source.startswith("from usr/lib/modules/6.17.1-300.fc42.aarch64+16k")


@pytest.mark.parametrize("booted", [True, False], ids=["booted-runner", "container-runner"])
def test_installroot_follows_its_kernel_whatever_the_runner(tmp_path, booted):
    """A runner booted with systemd (its /run/systemd/system) does not lend an installroot its
    own page size: the kernel installed in the root decides."""
    (tmp_path / "usr/lib/modules/6.17.1-300.fc42.aarch64+16k").mkdir(parents=True)
    found = page_size_of(tmp_path, env={}, booted=booted)
    assert found.value == 16384
    assert found.source == f"from usr/lib/modules/6.17.1-300.fc42.aarch64+16k in {tmp_path}"


def test_setup_of_an_installroot_on_a_booted_runner(root, monkeypatch, tmp_path):
    marker = tmp_path / "run-systemd-system"
    marker.mkdir()
    monkeypatch.setattr(target, "BOOTED_MARKER", marker)
    (root / "usr/lib/modules/6.17.1-300.fc42.aarch64+16k").mkdir(parents=True)
    report = actions.setup(root, env={}, live=False)
    assert (report.page_size, report.mode) == (16384, Mode.MUVM)
    assert (root / "etc/binfmt.d/zz-fexpkg-muvm-x86_64.conf").exists()
