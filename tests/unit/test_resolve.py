"""What a FEX transaction must also bring: pure decisions over package names."""

import logging

import pytest

from fexpkg.names import MUVM_PACKAGE as MUVM
from fexpkg.system.resolve import COMPANIONS, TransactionView, additions, wanted_companions

ALL = {*COMPANIONS, MUVM}


def test_group_install_on_4k_adds_companions_but_not_muvm():
    view = TransactionView.of(groups_installed=["fex-x86-emulation"], installs=["fex-emu"])
    result = additions(view, 4096, present={"fex-emu"}, available=ALL)
    assert result.names == COMPANIONS
    assert MUVM not in result.names


@pytest.mark.parametrize("page_size", [16384, 65536])
def test_non_4k_adds_muvm(page_size):
    view = TransactionView.of(installs=["fex-emu"])
    assert additions(view, page_size, present=set(), available=ALL).names == (*COMPANIONS, MUVM)


def test_kiwi_group_id_counts_as_fex():
    view = TransactionView.of(groups_installed=["x86-emulation"])
    assert view.installs_fex


def test_unrelated_transaction_adds_nothing():
    view = TransactionView.of(groups_installed=["kde-desktop"], installs=["kate"])
    assert additions(view, 16384, present=set(), available=ALL).names == ()


def test_present_packages_are_not_requested_again():
    view = TransactionView.of(installs=["fex-emu", "fex-emu-thunks"])
    present = {"fex-emu", "fex-emu-thunks", "erofs-fuse"}
    assert additions(view, 4096, present=present, available=ALL).names == ("fex-emu-rootfs-fedora",)


def test_unavailable_packages_are_reported_not_requested(caplog):
    view = TransactionView.of(installs=["fex-emu"])
    with caplog.at_level(logging.WARNING):
        result = additions(view, 16384, present=set(), available={"erofs-fuse"})
    assert result.names == ("erofs-fuse",)
    assert result.unavailable == ("fex-emu-rootfs-fedora", "fex-emu-thunks", MUVM)
    assert "muvm is needed by FEX but no enabled repository offers it" in caplog.text


def test_upgrade_is_not_removal():
    assert not TransactionView.of(installs=["fex-emu"], removes=["fex-emu"]).removes_fex
    assert TransactionView.of(removes=["fex-emu"]).removes_fex


def test_watched_packages():
    assert TransactionView.of(installs=["qemu-user-static-x86"]).touches_watched
    assert TransactionView.of(removes=["kernel-16k"]).touches_watched
    assert not TransactionView.of(installs=["kate"], removes=["vim"]).touches_watched


def test_wanted_companions_by_page_size():
    assert MUVM not in wanted_companions(4096)
    assert MUVM in wanted_companions(16384)
