"""Read an EroFS image with the standard library: the tree's metadata, and files' content.

The walk (directories()) reads directories a block of dirents at a time and no other inode;
symlinks' targets (link()) and setid bits (setid(), one byte per inode) are read apart, so
that checking a RootFS costs about as much as fsck. File content is read for the few files a
check needs: uncompressed layouts directly, LZ4 pclusters (the layout `mkfs.erofs -zlz4` writes
by default: one block per pcluster, full or compact indexes) with a small LZ4 decoder. Layouts
this module does not decode (big pclusters, tail packing, fragments, chunks, other algorithms)
are read through `fsck.erofs --extract` (erofs-utils) instead.

On-disk format: linux/fs/erofs/erofs_fs.h and zmap.c.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

from fexpkg.errors import ErofsError

MAGIC = 0xE0F5E1E2
SUPERBLOCK_OFFSET = 1024
_SB = struct.Struct("<IIIBBHQQIIII16s16sIHH")
_HEAD = struct.Struct("<HHH")  # i_format, i_xattr_icount, i_mode (both inode versions)
_COMPACT_TAIL = struct.Struct("<I4xI")  # at 8: i_size, i_mtime, i_u
_EXTENDED_TAIL = struct.Struct("<QI")  # at 8: i_size, i_u
_LINK_HEAD = struct.Struct("<HH4xI")  # i_format, i_xattr_icount, a compact inode's i_size
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_MAP_HEADER = struct.Struct("<IHBB")
_FULL_INDEX = struct.Struct("<HHI")

INCOMPAT_ZERO_PADDING = 0x1
# i_format: bit 0 the inode version, bits 1-3 the data layout.
FLAT_PLAIN, COMPRESSED_FULL, FLAT_INLINE, COMPRESSED_COMPACT, CHUNK_BASED = range(5)
# z_erofs_map_header.h_advise
ADVISE_COMPACTED_2B = 0x1
ADVISE_UNSUPPORTED = 0x2 | 0x4 | 0x8 | 0x20  # big pcluster 1/2, inline pcluster, fragment
ADVISE_INTERLACED = 0x10
# lcluster types
LC_PLAIN, LC_HEAD1, LC_NONHEAD, LC_HEAD2 = range(4)
LC_D0_CBLKCNT = 1 << 11
ALGORITHM_LZ4 = 0

#: dirent file_type -> the kind letters used for trees: f d c b p s l (0 = unknown).
KINDS = "?fdcbpsl"
_KIND_TABLE = KINDS.encode().ljust(256, b"?")
_SETID_TABLE = bytes(1 if high & 0x0C else 0 for high in range(256))  # S_ISUID, S_ISGID >> 8


class Unsupported(ErofsError):
    """An inode layout this reader does not decode (read it through fsck.erofs instead)."""


class Inode(NamedTuple):
    """The parts of an inode the reader uses."""

    nid: int
    offset: int  # of the inode in the image
    layout: int
    isize: int  # inode plus xattrs
    mode: int
    size: int
    raw: int  # i_u: first block, compressed block count or device number


class Image:
    """An EroFS image, mapped read-only; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            with self.path.open("rb") as fh:
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ErofsError(f"{self.path}: cannot read the image ({exc})") from None
        if len(self._map) < SUPERBLOCK_OFFSET + _SB.size:
            raise ErofsError(f"{self.path}: not an EroFS image (too small)")
        sb = _SB.unpack_from(self._map, SUPERBLOCK_OFFSET)
        if sb[0] != MAGIC:
            raise ErofsError(f"{self.path}: not an EroFS image (no EroFS magic at offset 1024)")
        self.block_size = 1 << sb[3]
        self.root_nid = sb[5]
        self.meta = sb[10] * self.block_size
        self.incompat = sb[14]

    def close(self) -> None:
        """Unmap the image."""
        self._map.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inodes and directories -------------------------------------------------------------

    def inode(self, nid: int) -> Inode:
        """The inode numbered nid."""
        offset = self.meta + nid * 32
        fmt, icount, mode = _HEAD.unpack_from(self._map, offset)
        if fmt & 1:
            size, raw = _EXTENDED_TAIL.unpack_from(self._map, offset + 8)
            isize = 64
        else:
            size, raw = _COMPACT_TAIL.unpack_from(self._map, offset + 8)
            isize = 32
        if icount:
            isize += 12 + (icount - 1) * 4
        return Inode(nid, offset, (fmt >> 1) & 7, isize, mode, size, raw)

    def setid(self, nids: list[int]) -> list[int]:
        """Indexes into nids of the inodes with a setuid or setgid bit.

        Reads one byte per inode (i_mode's high one, at 5 in both inode versions), in C loops:
        the check looks at every file of the image. A view of every 32nd byte is indexed by nid.
        """
        with memoryview(self._map) as whole, whole[self.meta + 5 :: 32] as high:
            flags = bytes(map(high.__getitem__, nids)).translate(_SETID_TABLE)
        found = []
        i = flags.find(1)
        while i >= 0:
            found.append(i)
            i = flags.find(1, i + 1)
        return found

    def link(self, nid: int) -> str:
        """Target of the symlink nid."""
        offset = self.meta + nid * 32
        fmt, icount, size = _LINK_HEAD.unpack_from(self._map, offset)
        if fmt != 4 or icount or size >= self.block_size:  # not the usual: compact, inline, short
            return self.read_flat(self.inode(nid)).decode("utf-8", "surrogateescape")
        return self._map[offset + 32 : offset + 32 + size].decode("utf-8", "surrogateescape")

    def entries(self, inode: Inode) -> tuple[list[str], list[int], str]:
        """Names, nids and kind letters (see KINDS) of a directory, without `.` and `..`."""
        data = self.read_flat(inode)
        text = data.decode("latin-1")  # one character per byte: dirent offsets index it
        bs = self.block_size
        size = len(data)
        names: list[str] = []
        nids: list[int] = []
        types = bytearray()
        ascii_names = True
        for start in range(0, size, bs):
            count = _U16.unpack_from(data, start + 8)[0] // 12
            fields = _dirents(count).unpack_from(data, start)
            offsets = [*map(start.__add__, fields[1::2])]
            last = offsets[-1]
            end = min(start + bs, size)
            offsets.append(last + len(data[last:end].rstrip(b"\0")))  # the last name is padded
            names += map(text.__getitem__, map(slice, offsets, offsets[1:]))
            ascii_names = ascii_names and data[min(offsets) : max(offsets)].isascii()
            nids += fields[0::2]
            types += data[start + 10 : start + 12 * count : 12]  # file_type, at 10 in each
        if not ascii_names:  # names are UTF-8 (or any bytes), not Latin-1
            names = [n.encode("latin-1").decode("utf-8", "surrogateescape") for n in names]
        for dot in (".", ".."):
            if dot in names:
                i = names.index(dot)
                del names[i], nids[i], types[i]
        return names, nids, types.translate(_KIND_TABLE).decode("ascii")

    def directories(self) -> Iterator[tuple[str, list[str], list[int], str]]:
        """Every directory, parents before children: (path, names, nids, kind letters).

        Paths are relative (`usr/lib64`, the root is `""`); `.` and `..` are left out.
        """
        todo = [("", self.root_nid)]
        while todo:
            path, nid = todo.pop()
            names, nids, kinds = self.entries(self.inode(nid))
            yield path, names, nids, kinds
            prefix = path + "/" if path else ""
            i = kinds.find("d")
            while i >= 0:
                todo.append((prefix + names[i], nids[i]))
                i = kinds.find("d", i + 1)

    # -- content ------------------------------------------------------------------------------

    def read_flat(self, inode: Inode) -> bytes:
        """Content of an uncompressed inode (plain or inline tail)."""
        bs = self.block_size
        if inode.layout == FLAT_PLAIN:
            start = inode.raw * bs
            return self._map[start : start + inode.size]
        if inode.layout == FLAT_INLINE:
            full = inode.size // bs * bs
            tail = inode.offset + inode.isize
            head = self._map[inode.raw * bs : inode.raw * bs + full] if full else b""
            return head + self._map[tail : tail + inode.size - full]
        raise Unsupported(f"{self.path}: inode {inode.nid} has data layout {inode.layout}")

    def read(self, nid: int) -> bytes:
        """Content of a file: flat or LZ4 layouts here, others through fsck.erofs --extract."""
        inode = self.inode(nid)
        if inode.layout in (COMPRESSED_FULL, COMPRESSED_COMPACT):
            return self._read_compressed(inode)
        return self.read_flat(inode)

    def _read_compressed(self, inode: Inode) -> bytes:
        bs = self.block_size
        base = (inode.offset + inode.isize + 7) // 8 * 8
        _, advise, algorithms, clusterbits = _MAP_HEADER.unpack_from(self._map, base)
        lbits = (bs.bit_length() - 1) + (clusterbits & 7)
        if advise & ADVISE_UNSUPPORTED or lbits != bs.bit_length() - 1:
            raise Unsupported(f"{self.path}: inode {inode.nid} uses pcluster options {advise:#x}")
        count = -(-inode.size // bs)
        if inode.layout == COMPRESSED_FULL:
            clusters = self._full_index(base + 16, count)
        else:
            clusters = self._compact_index(base + 8, count, advise, lbits)
        heads = [(lcn * bs + ofs, kind, pblk) for lcn, kind, ofs, pblk in clusters]
        out = bytearray()
        for i, (start, kind, pblk) in enumerate(heads):
            end = heads[i + 1][0] if i + 1 < len(heads) else inode.size
            block = self._map[pblk * bs : (pblk + 1) * bs]
            if kind == LC_PLAIN:
                if advise & ADVISE_INTERLACED:
                    shift = start % bs
                    block = block[shift:] + block[:shift]
                out += block[: end - start]
            elif (algorithms >> (4 * (kind == LC_HEAD2))) & 0xF == ALGORITHM_LZ4:
                if self.incompat & INCOMPAT_ZERO_PADDING:
                    block = block.lstrip(b"\0")
                out += lz4_block(block, end - start)
            else:
                raise Unsupported(f"{self.path}: inode {inode.nid} is not LZ4-compressed")
        if len(out) != inode.size:
            raise ErofsError(f"{self.path}: inode {inode.nid} decompresses to the wrong size")
        return bytes(out)

    def _full_index(self, pos: int, count: int) -> list[tuple[int, int, int, int]]:
        """(lcn, type, clusterofs, block) of each head lcluster from the full (8-byte) index."""
        heads = []
        for lcn in range(count):
            advise, clusterofs, blkaddr = _FULL_INDEX.unpack_from(self._map, pos + 8 * lcn)
            if advise & 3 != LC_NONHEAD:
                heads.append((lcn, advise & 3, clusterofs, blkaddr))
        return heads

    def _compact_index(
        self, ebase: int, count: int, advise: int, lbits: int
    ) -> list[tuple[int, int, int, int]]:
        """(lcn, type, clusterofs, block) of each head lcluster from the compact index."""
        initial = ((32 - ebase % 32) // 4) & 7
        two_b = 0
        if advise & ADVISE_COMPACTED_2B and initial < count:
            two_b = (count - initial) // 16 * 16
        lobits = max(lbits, 12)
        heads = []
        lcn = 0
        pos = ebase
        for n, shift in (
            (min(initial, count), 2),
            (two_b, 1),
            (max(count - initial - two_b, 0), 2),
        ):
            vcnt = 2 if shift == 2 else 16
            packsize = vcnt << shift
            encodebits = (packsize - 4) * 8 // vcnt
            done = 0
            while done < n:
                pack = self._map[pos : pos + packsize]
                blkaddr = _U32.unpack_from(pack, packsize - 4)[0]
                nblk = 0
                for i in range(min(vcnt, n - done)):
                    bit = encodebits * i
                    v = int.from_bytes(pack[bit // 8 : bit // 8 + 4], "little") >> (bit & 7)
                    kind = (v >> lobits) & 3
                    if kind != LC_NONHEAD:
                        nblk += 1
                        heads.append((lcn, kind, v & ((1 << lobits) - 1), blkaddr + nblk))
                    lcn += 1
                done += vcnt
                pos += packsize
        return heads

    def extract_read(self, relpath: str) -> bytes:
        """Content of one file through `fsck.erofs --extract` (any layout erofs-utils reads)."""
        import shutil  # the rare path: kept out of the check's start-up
        import subprocess
        import tempfile

        if shutil.which("fsck.erofs") is None:
            raise ErofsError(
                f"{self.path}: {relpath} needs fsck.erofs to be read; install erofs-utils"
            )
        with tempfile.TemporaryDirectory(prefix="fexpkg-erofs-") as tmp:
            out = Path(tmp, "x")
            proc = subprocess.run(
                ["fsck.erofs", f"--extract={out}", "--no-preserve", str(self.path)],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise ErofsError(f"fsck.erofs {self.path} failed: {proc.stderr.strip()}")
            return (out / relpath).read_bytes()


@cache
def _dirents(count: int) -> struct.Struct:
    """The Struct of a directory block's count dirents (nid, nameoff; file_type is sliced)."""
    return struct.Struct("<" + "QH2x" * count)


def lz4_block(src: bytes, size: int) -> bytes:
    """Decode an LZ4 block up to size bytes of output (EroFS pclusters end where data does)."""
    out = bytearray()
    pos, i, n = 0, 0, len(src)  # pos: len(out)
    try:
        while i < n and pos < size:
            token = src[i]
            i += 1
            lit = token >> 4
            if lit == 15:
                b = 255
                while b == 255:
                    b = src[i]
                    i += 1
                    lit += b
            out += src[i : i + lit]
            i += lit
            pos += lit
            if i >= n or pos >= size:
                break
            offset = src[i] | src[i + 1] << 8
            i += 2
            length = (token & 15) + 4
            if length == 19:
                b = 255
                while b == 255:
                    b = src[i]
                    i += 1
                    length += b
            start = pos - offset
            if offset == 0 or start < 0:
                raise ErofsError("corrupt LZ4 data: match before the start of the output")
            if offset >= length:
                out += out[start : start + length]
            else:
                out += (out[start:] * (length // offset + 1))[:length]
            pos += length
    except IndexError:
        raise ErofsError("corrupt LZ4 data: truncated sequence") from None
    return bytes(out[:size])
