"""Names every part of fexpkg shares, in a module that imports nothing.

The DNF 4 plugin imports only this at load time: a transaction that does not touch FEX pays for
nothing else.
"""

#: FEX's comps group: this project's id (Fedora 42 release notes) and the id Fedora's Kiwi uses.
FEX_GROUP_IDS = frozenset({"fex-x86-emulation", "x86-emulation"})
FEX_PACKAGE = "fex-emu"
MUVM_PACKAGE = "muvm"
#: The page size FEX runs on directly; on any other, x86 programs run in a muvm microVM.
NATIVE_PAGE_SIZE = 4096
#: Packages whose arrival or departure changes what setup must write.
WATCHED = frozenset(
    {
        FEX_PACKAGE,
        "fex-emu-rootfs-fedora",
        "erofs-fuse",
        MUVM_PACKAGE,
        "kernel-16k",
        "kernel-64k",
        "qemu-user-static-x86",
        "box64",
        "binfmt-dispatcher",
    }
)
