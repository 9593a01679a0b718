"""A Kiwi description of the KDE spin's packages, for the tiers that run `kiwi-ng system prepare`.

It holds `filesystem`, then the spin's Kiwi fragment (`comps/spin/fex-kde-aarch64.kiwi.xml`:
kde-desktop-environment and fex-x86-emulation), with a profile per kernel flavour (`kernel`;
`kernel-16k` adds kernel-16k). The fragment goes in as bootstrap packages, not image ones: Kiwi
installs image packages with `chroot ROOT dnf4|dnf5` (kiwi/package_manager/dnf4.py and dnf5.py,
`process_install_requests`), which a root of stand-ins cannot run, and with no image packages
Kiwi skips that phase (kiwi/system/prepare.py, `install_system`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fexpkg.dev import checkout
from fexpkg.packaging import spin

# What the description brings from the test repository (tests/fixtures/specs' stand-ins).
#: The KDE environment's stand-ins and `filesystem`.
KDE = frozenset({"filesystem", "busybox", "kernel"})
#: FEX's group: its mandatory packages, its default ones, and what they require.
MANDATORY = frozenset({"fex-emu", "fex-emu-rootfs-fedora"})
DEFAULT = frozenset(
    {
        "erofs-fuse",
        "fex-emu-thunks",
        "mesa-fex-emu-overlay-i386",
        "mesa-fex-emu-overlay-x86_64",
        "python3-fexpkg",
    }
)
REQUIRED = frozenset({"fex-emu-filesystem", "python3"})
#: Weak dependencies plusRecommended brings: `Supplements: (python3-fexpkg and python3-dnf)`,
#: and the python3 stand-in provides python3-dnf.
WEAK = frozenset({"python3-dnf-plugin-fex"})

_DESCRIPTION = """\
<?xml version="1.0" encoding="utf-8"?>
<image schemaversion="7.5" name="fexpkg-spin-{packagemanager}">
    <description type="system">
        <author>fexpkg</author>
        <contact>fexpkg@example.org</contact>
        <specification>the AArch64 KDE spin's packages, root tree only</specification>
    </description>
    <profiles>
        <profile name="kernel" description="4 KiB pages: the KDE environment's kernel"/>
        <profile name="kernel-16k" description="16 KiB pages: kernel-16k too (Apple Silicon)"/>
    </profiles>
    <preferences>
        <version>1.0.0</version>
        <packagemanager>{packagemanager}</packagemanager>
        <release-version>{releasever}</release-version>
        <type image="tbz"/>
    </preferences>
    <repository type="rpm-md" alias="fexpkg-test">
        <source path="{repo}"/>
    </repository>
    <packages type="bootstrap">
        <package name="filesystem"/>
{ignores}    </packages>
{fragment}
    <packages type="bootstrap" profiles="kernel-16k">
        <package name="kernel-16k"/>
    </packages>
</image>
"""


def description(
    packagemanager: str,
    repo: str,
    *,
    plus_recommended: bool = True,
    ignore: Iterable[str] = (),
) -> str:
    """The description for Kiwi's `packagemanager` (dnf4, dnf5) and the repository at the Kiwi
    URI `repo`; `plus_recommended=False` drops the fragment's patternType (Kiwi's default,
    onlyRequired, then applies); `ignore`: packages Kiwi must leave out (`--exclude`)."""
    fragment = (checkout.SPIN_DIR / spin.KIWI_NAME).read_text(encoding="utf-8")
    fragment = re.sub(r"\A<\?xml[^>]*\?>\s*", "", fragment)
    fragment, count = re.subn(r'<packages type="image"', '<packages type="bootstrap"', fragment)
    if count != 1:
        raise ValueError(f"{spin.KIWI_NAME} has no single image <packages>: {fragment}")
    if not plus_recommended:
        fragment, count = re.subn(r' patternType="plusRecommended"', "", fragment)
        if count != 1:
            raise ValueError(f"{spin.KIWI_NAME} is not plusRecommended: {fragment}")
    return _DESCRIPTION.format(
        packagemanager=packagemanager,
        releasever=spin.RELEASEVER,
        repo=repo,
        ignores="".join(f'        <ignore name="{name}"/>\n' for name in ignore),
        fragment=fragment.strip(),
    )
