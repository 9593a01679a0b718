"""Package names an RPM repository offers, read from its repodata without DNF."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path
from typing import IO

from fexpkg.errors import CompsError, requires

with requires("python3-lxml"):
    from lxml import etree

_REPO_NS = "{http://linux.duke.edu/metadata/repo}"
_COMMON_NS = "{http://linux.duke.edu/metadata/common}"
_OPENERS = {".gz": gzip.open, ".xz": lzma.open}


def repo_packages(repo: Path, arches: tuple[str, ...] = ("aarch64", "noarch")) -> frozenset[str]:
    """Names of the packages of `repo` built for one of `arches` (repodata/primary.xml)."""
    with _open_primary(repo) as stream:
        names = set()
        for _, pkg in etree.iterparse(stream, tag=f"{_COMMON_NS}package"):
            if pkg.findtext(f"{_COMMON_NS}arch") in arches:
                names.add(pkg.findtext(f"{_COMMON_NS}name"))
            pkg.clear()
    return frozenset(names)


def _open_primary(repo: Path) -> IO[bytes]:
    repomd = repo / "repodata" / "repomd.xml"
    try:
        root = etree.parse(str(repomd)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise CompsError(
            f"cannot read {repomd}: {exc}; is {repo} a repository (createrepo_c output)?"
        ) from exc
    location = root.find(f"{_REPO_NS}data[@type='primary']/{_REPO_NS}location")
    if location is None:
        raise CompsError(f"{repomd} lists no primary metadata; rebuild it with createrepo_c")
    primary = repo / location.get("href", "")
    opener = _OPENERS.get(primary.suffix)
    if opener is None and primary.suffix != ".xml":
        raise CompsError(
            f"cannot read {primary}: unsupported compression; run createrepo_c "
            "with --general-compress-type=gz"
        )
    try:
        return opener(primary, "rb") if opener else open(primary, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CompsError(f"cannot read {primary}: {exc.strerror}") from exc
