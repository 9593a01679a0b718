"""Findings worded once: setup warns of them, doctor (and so `fexpkg status`) reports them."""

from __future__ import annotations

NO_ROOTFS_CONFIGURED = "no RootFS configured: FEX cannot run x86 programs"


def muvm_missing(page_size: int) -> str:
    """muvm is what runs FEX on a kernel whose pages are not 4 KiB."""
    return f"muvm is not installed: x86 programs cannot run on {page_size}-byte pages"


def rootfs_image_missing(image: str) -> str:
    """The packaged RootFS image (an absolute path) is not installed."""
    return f"no RootFS image: {image} is missing"


def override_effect(muvm: bool) -> str:
    """What a RootFS set by the user (Config.json or FEX_ROOTFS) does to fexpkg's."""
    if muvm:
        return "overrides muvm's RootFS and FEX fails in the microVM"
    return "overrides the global RootFS"


def rootfs_override(config: str, value: str, muvm: bool) -> str:
    """A user's Config.json (an absolute path) sets a RootFS of its own."""
    return f"{config} sets RootFS {value!r}: it {override_effect(muvm)}"
