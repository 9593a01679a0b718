"""binfmt_misc lines, the binfmt.d model and parsing of the live interface."""

import errno
import os

import pytest

from fexpkg.confined import Root
from fexpkg.errors import BinfmtError
from fexpkg.system.binfmt import (
    BinfmtEntry,
    BinfmtFile,
    BinfmtMisc,
    LiveEntry,
    binfmt_files,
    effective_handlers,
    elf_header,
    handler_for,
    parse_status,
)

FEX_X86 = (
    r":FEX-x86:M:0:\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00"
    r":\xff\xff\xff\xff\xff\xfe\xfe\x00\x00\x00\x00\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
    r":/usr/bin/FEXInterpreter:POCF"
)
FEX_X86_64 = (
    r":FEX-x86_64:M:0:\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"
    r":\xff\xff\xff\xff\xff\xfe\xfe\x00\x00\x00\x00\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
    r":/usr/bin/FEX:POCF"
)
QEMU_X86_64 = FEX_X86_64.replace("FEX-x86_64", "qemu-x86_64").replace(
    "/usr/bin/FEX:POCF", "/usr/bin/qemu-x86_64-static:POCF"
)


@pytest.mark.parametrize("line", [FEX_X86, FEX_X86_64, QEMU_X86_64])
def test_round_trip_is_byte_for_byte(line):
    assert BinfmtEntry.parse_line(line + "\n").format() == line


def test_parsed_fields():
    entry = BinfmtEntry.parse_line(FEX_X86_64)
    assert entry.name == "FEX-x86_64"
    assert entry.type == "M" and entry.offset == 0
    assert entry.magic[:4] == b"\x7fELF" and entry.magic[18] == 0x3E and len(entry.magic) == 20
    assert len(entry.mask) == 20
    assert entry.interpreter == "/usr/bin/FEX" and entry.flags == "POCF"


def test_matches_the_right_elf():
    x86, x86_64 = BinfmtEntry.parse_line(FEX_X86), BinfmtEntry.parse_line(FEX_X86_64)
    assert x86.matches(elf_header("x86")) and not x86.matches(elf_header("x86_64"))
    assert x86_64.matches(elf_header("x86_64")) and not x86_64.matches(elf_header("x86"))
    assert len(elf_header("x86")) == 52 and len(elf_header("x86_64")) == 64
    # ET_DYN (3) is accepted through the mask's \xfe on e_type
    dyn = bytearray(elf_header("x86_64"))
    dyn[16] = 3
    assert x86_64.matches(bytes(dyn))
    assert not x86_64.matches(b"\x7fELF")


def test_elf_headers_are_exact():
    ident = b"\x7fELF%c\x01\x01" + bytes(9)
    assert elf_header("x86") == (
        ident % 1 + b"\x02\x00\x03\x00\x01\x00\x00\x00" + bytes(16) + b"\x34\x00" + bytes(10)
    )
    assert elf_header("x86_64") == (
        ident % 2 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(28) + b"\x40\x00" + bytes(10)
    )
    with pytest.raises(ValueError, match="unknown arch 'arm'"):
        elf_header("arm")


def test_matches_without_mask_at_an_offset_and_never_for_extensions():
    plain = BinfmtEntry.parse_line(r":x:M:1:ELF::/i:")
    assert plain.matches(b"\x7fELF") and not plain.matches(b"ELF\x00")
    assert not plain.matches(b"\x7fEL")
    assert not BinfmtEntry.parse_line(":exe:E::ELF::/i:").matches(b"ELF" * 4)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (":", "too short"),
        (":x", "expected 7 fields separated by ':', got 1"),
        ("|x|M|0|ab", "expected 7 fields separated by '|', got 4"),
        (":x:Z:0:ab::/i:", "type 'Z' is neither M (magic) nor E (extension)"),
        (":x:E:1:exe::/i:", "an E (extension) entry has no offset nor mask"),
        (":x:E::exe:ff:/i:", "an E (extension) entry has no offset nor mask"),
        (":x:M:zero:ab::/i:", "offset 'zero' is not a number"),
        (":x:M:0:ab:\\xff:/i:", "mask is 1 bytes, magic 2"),
        (":x:M:0:ab::/i:Q", "unknown flags in 'Q' (allowed: POCF)"),
        (":x:M:0:ab::", "no interpreter"),
        (":x:M:0:::/i:", "empty magic"),
        ("::M:0:ab::/i:", "bad name ''"),
        (":a/b:M:0:ab::/i:", "bad name 'a/b'"),
        (":.:M:0:ab::/i:", "bad name '.'"),
        (":..:M:0:ab::/i:", "bad name '..'"),
        (":register:M:0:ab::/i:", "bad name 'register'"),
        (":status:M:0:ab::/i:", "bad name 'status'"),
    ],
)
def test_invalid_lines_quote_the_text(line, reason):
    with pytest.raises(BinfmtError) as info:
        BinfmtEntry.parse_line(line + "\n")
    assert str(info.value) == f"invalid binfmt_misc line '{line}': {reason}"


def test_flags_may_be_left_out_and_any_delimiter_used():
    assert BinfmtEntry.parse_line(":x:M:0:ab::/i") == BinfmtEntry("x", "M", 0, b"ab", b"", "/i", "")
    extension = BinfmtEntry.parse_line("XwineXEXXexeXX/usr/bin/wineXP")
    assert extension == BinfmtEntry("wine", "E", 0, b"exe", b"", "/usr/bin/wine", "P")
    assert extension.format() == ":wine:E::exe::/usr/bin/wine:P"


def write(root, relpath, text):
    path = root.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def root(tmp_path):
    return Root(tmp_path)


def test_qemu_sorts_after_fex_and_wins(root):
    write(root, "usr/lib/binfmt.d/FEX-x86_64.conf", FEX_X86_64 + "\n")
    write(root, "usr/lib/binfmt.d/qemu-x86_64-static.conf", "# qemu\n" + QEMU_X86_64 + "\n")
    entries = effective_handlers(root)
    assert [a.entry.name for a in entries] == ["FEX-x86_64", "qemu-x86_64"]
    winner = handler_for(elf_header("x86_64"), entries)
    assert winner.entry.name == "qemu-x86_64"
    assert winner.relpath == "usr/lib/binfmt.d/qemu-x86_64-static.conf" and winner.lineno == 2
    assert handler_for(elf_header("x86"), entries) is None


def test_etc_overrides_run_overrides_usr_lib_and_masks(root):
    write(root, "usr/lib/binfmt.d/FEX-x86.conf", FEX_X86 + "\n")
    write(root, "run/binfmt.d/FEX-x86.conf", FEX_X86.replace("FEXInterpreter", "run") + "\n")
    assert effective_handlers(root)[0].entry.interpreter == "/usr/bin/run"
    write(
        root, "etc/binfmt.d/FEX-x86.conf", "; comment\n" + FEX_X86.replace("FEXInterpreter", "etc")
    )
    assert effective_handlers(root)[0].relpath == "etc/binfmt.d/FEX-x86.conf"
    (root.path / "etc/binfmt.d/FEX-x86.conf").unlink()
    (root.path / "etc/binfmt.d/FEX-x86.conf").symlink_to("/dev/null")
    assert effective_handlers(root) == []
    assert binfmt_files(root) == [BinfmtFile("FEX-x86.conf", "etc/binfmt.d/FEX-x86.conf", True)]


def test_same_name_registered_again_moves_last(root):
    write(root, "usr/lib/binfmt.d/FEX-x86_64.conf", FEX_X86_64 + "\n")
    write(root, "usr/lib/binfmt.d/qemu-x86_64-static.conf", QEMU_X86_64 + "\n")
    write(root, "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf", FEX_X86_64 + "\n")
    entries = effective_handlers(root)
    assert [(a.entry.name, a.relpath) for a in entries] == [
        ("qemu-x86_64", "usr/lib/binfmt.d/qemu-x86_64-static.conf"),
        ("FEX-x86_64", "etc/binfmt.d/zz-fexpkg-FEX-x86_64.conf"),
    ]
    assert handler_for(elf_header("x86_64"), entries).entry.name == "FEX-x86_64"


def test_bad_line_is_skipped_with_warning(root, caplog):
    write(root, "etc/binfmt.d/bad.conf", ":broken\n" + FEX_X86 + "\n")
    assert [a.entry.name for a in effective_handlers(root)] == ["FEX-x86"]
    assert caplog.messages == [
        f"{root.path}/etc/binfmt.d/bad.conf:1: invalid binfmt_misc line ':broken': expected 7 "
        "fields separated by ':', got 1"
    ]


def test_comments_blank_lines_and_bytes_that_are_not_utf8_are_skipped(root, caplog):
    (root.path / "etc/binfmt.d").mkdir(parents=True)
    text = b"#\n\n;\n# caf\xe9\n  \n" + FEX_X86.encode() + b"\nXwineXEXXexeXX/bin/wineX\n"
    (root.path / "etc/binfmt.d/a.conf").write_bytes(text)
    assert [(a.lineno, a.entry.name) for a in effective_handlers(root)] == [
        (6, "FEX-x86"),
        (7, "wine"),
    ]
    assert caplog.messages == []


def test_parse_status_of_a_live_entry():
    text = (
        "enabled\ninterpreter /usr/bin/FEX\nflags: POCF\noffset 0\n"
        "magic 7f454c4602010100000000000000000002003e00\n"
        "mask fffffffffffefe00000000fffffffffffeffffff\n"
    )
    live = parse_status("FEX-x86_64", text)
    assert live.enabled
    assert live.entry == BinfmtEntry.parse_line(FEX_X86_64)
    assert not parse_status("x", "disabled\ninterpreter /i\nflags: \nextension .exe\n").enabled


def test_missing_binfmt_misc_is_one_line_error(tmp_path):
    misc = BinfmtMisc(tmp_path / "nope")
    assert not misc.available()
    with pytest.raises(BinfmtError, match="not available") as info:
        misc.registered()
    assert "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    assert not BinfmtMisc(tmp_path / "empty").available()


def test_fake_directory_interface(tmp_path):
    """Against a plain directory: register/unregister write what the kernel expects."""
    (tmp_path / "register").write_text("")
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "FEX-x86").write_text("enabled\ninterpreter /usr/bin/FEXInterpreter\nflags: POCF\n")
    misc = BinfmtMisc(tmp_path)
    assert list(misc.registered()) == ["FEX-x86"]
    misc.register(BinfmtEntry.parse_line(FEX_X86))
    assert (tmp_path / "register").read_text() == FEX_X86 + "\n"
    assert misc.unregister("FEX-x86")
    assert (tmp_path / "FEX-x86").read_text().startswith("-1")
    assert not misc.unregister("qemu-x86_64")


@pytest.mark.parametrize(
    ("text", "entry", "enabled"),
    [
        (
            "disabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n",
            BinfmtEntry("x", "E", 0, b"exe", b"", "/usr/bin/wine", ""),
            False,
        ),
        (
            "enabled\ninterpreter /opt/my fex/FEX\nflags: PF\noffset 2\nmagic 4c46\n",
            BinfmtEntry("x", "M", 2, b"LF", b"", "/opt/my fex/FEX", "PF"),
            True,
        ),
        (
            "enabled\ninterpreter /usr/bin/xbmview\nflags: \nextension .Xbm\n",
            BinfmtEntry("x", "E", 0, b"Xbm", b"", "/usr/bin/xbmview", ""),
            True,
        ),
        ("enabled\n", BinfmtEntry("x", "M", 0, b"", b"", "", ""), True),
        ("", BinfmtEntry("x", "M", 0, b"", b"", "", ""), False),
    ],
    ids=["extension", "offset-and-spaced-interpreter", "extension-X", "truncated", "empty"],
)
def test_parse_status_fields(text, entry, enabled):
    assert parse_status("x", text) == LiveEntry(entry, enabled)


def fake_misc(tmp_path, *entries: str):
    """A plain directory laid out like binfmt_misc, with entries named FEX-x86 and so on."""
    for name in ("register", "status", *entries):
        (tmp_path / name).write_text("enabled\ninterpreter /usr/bin/FEXInterpreter\nflags: POCF\n")
    return BinfmtMisc(tmp_path)


def test_available_when_mounted(tmp_path):
    assert fake_misc(tmp_path).available()


def test_registered_lists_names_sorting_after_register_and_skips_vanished_ones(tmp_path):
    misc = fake_misc(tmp_path, "FEX-x86", "qemu-x86_64", "wine")
    (tmp_path / "A-gone").symlink_to("unregistered-meanwhile")
    assert list(misc.registered()) == ["FEX-x86", "qemu-x86_64", "wine"]


def test_unreadable_entry_is_one_line_error(tmp_path):
    misc = fake_misc(tmp_path)
    (tmp_path / "FEX-x86").mkdir()
    with pytest.raises(BinfmtError) as info:
        misc.registered()
    assert str(info.value) == f"cannot read {tmp_path}: Is a directory"


class FailingMisc(BinfmtMisc):
    """binfmt_misc whose writes fail with one errno."""

    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def _write(self, name: str, data: bytes) -> None:
        raise OSError(self.code, os.strerror(self.code))


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (errno.EEXIST, "it is already registered"),
        (errno.ENOENT, "/usr/bin/FEXInterpreter does not exist"),
        (errno.EINVAL, "Invalid argument"),
    ],
)
def test_register_failure_names_the_entry_and_the_cause(code, hint):
    with pytest.raises(BinfmtError) as info:
        FailingMisc(code).register(BinfmtEntry.parse_line(FEX_X86))
    assert str(info.value) == f"cannot register binfmt_misc entry FEX-x86: {hint}"


def test_unregister_failure_names_the_entry_and_the_cause():
    with pytest.raises(BinfmtError) as info:
        FailingMisc(errno.EACCES).unregister("FEX-x86")
    assert str(info.value) == "cannot unregister binfmt_misc entry FEX-x86: Permission denied"
    assert not FailingMisc(errno.ENOENT).unregister("FEX-x86")
