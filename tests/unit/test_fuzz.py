"""Property tests: parsers and the Config.json merge never fail but with the project's errors."""

import json
import shutil
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from fexpkg.comps import document as comps_doc
from fexpkg.comps import validate as comps_validate
from fexpkg.confined import Root
from fexpkg.errors import BinfmtError, ConfigError, FexpkgError
from fexpkg.system import actions
from fexpkg.system.binfmt import FLAGS, BinfmtEntry
from fexpkg.system.fexconfig import (
    GLOBAL_CONFIG,
    MISSING,
    ROOTFS_KEY,
    dumps,
    get_key,
    load,
    with_key,
)
from fexpkg.system.plan import ROOTFS_IMAGE

FEX_INSTALLED = Path(__file__).parents[1] / "fixtures/roots/fex-installed"
COMPS = Path(__file__).parents[1] / "fixtures/comps/comps-f42.xml.in"
BOUNDED = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SLOW = settings(BOUNDED, max_examples=60)
MANY = settings(BOUNDED, max_examples=200)

# -- binfmt lines -----------------------------------------------------------------------------

WORD = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=12)
NAMES = WORD.filter(lambda n: n not in (".", "..", "register", "status"))
PATHS = st.lists(WORD, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
FLAG_SETS = st.lists(st.sampled_from(FLAGS), unique=True).map("".join)


@st.composite
def magic_entries(draw: st.DrawFn) -> BinfmtEntry:
    magic = draw(st.binary(min_size=1, max_size=24))
    mask = draw(st.one_of(st.just(b""), st.binary(min_size=len(magic), max_size=len(magic))))
    offset = draw(st.integers(0, 4096))
    return BinfmtEntry(draw(NAMES), "M", offset, magic, mask, draw(PATHS), draw(FLAG_SETS))


@st.composite
def extension_entries(draw: st.DrawFn) -> BinfmtEntry:
    extension = draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=8))
    return BinfmtEntry(draw(NAMES), "E", 0, extension.encode(), b"", draw(PATHS), draw(FLAG_SETS))


ENTRIES = st.one_of(magic_entries(), extension_entries())
FIELD_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@BOUNDED
@given(st.text(max_size=200))
def test_parse_line_on_arbitrary_text_raises_only_binfmt_error(text):
    try:
        entry = BinfmtEntry.parse_line(text)
    except BinfmtError:
        return
    assert BinfmtEntry.parse_line(entry.format()) == entry


@BOUNDED
@given(st.sampled_from(":,#|"), st.lists(FIELD_TEXT, min_size=5, max_size=8))
def test_parse_line_on_delimited_fields_raises_only_binfmt_error(delimiter, fields):
    """Lines shaped like registrations, so that more of them reach the later checks."""
    try:
        entry = BinfmtEntry.parse_line(delimiter + delimiter.join(fields))
    except BinfmtError:
        return
    assert BinfmtEntry.parse_line(entry.format()) == entry


@BOUNDED
@given(ENTRIES)
def test_valid_lines_round_trip(entry):
    line = entry.format()
    assert BinfmtEntry.parse_line(line) == entry
    assert BinfmtEntry.parse_line(line).format() == line


@BOUNDED
@given(magic_entries(), st.binary(max_size=64))
def test_matches_never_fails(entry, header):
    assert isinstance(entry.matches(header), bool)
    if entry.matches(header):
        assert len(header) >= entry.offset + len(entry.magic)


# -- comps validation -------------------------------------------------------------------------

COMPS_BYTES = COMPS.read_bytes()


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    """The fixture with a few byte ranges deleted, replaced or inserted (often in the prolog)."""
    data = bytearray(COMPS_BYTES)
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.one_of(st.integers(0, 160), st.integers(0, len(data))))
        end = draw(st.integers(start, min(len(data), start + 40)))
        data[start:end] = draw(st.binary(max_size=20))
    return bytes(data)


@st.composite
def tree_mutations(draw: st.DrawFn) -> bytes:
    """The fixture with elements dropped, duplicated, moved or retexted, attributes changed."""
    tree = etree.ElementTree(etree.fromstring(COMPS_BYTES))
    for _ in range(draw(st.integers(1, 4))):
        elements = [e for e in tree.iter() if isinstance(e.tag, str)]
        elem = draw(st.sampled_from(elements))
        parent = elem.getparent()
        op = draw(st.sampled_from(["drop", "duplicate", "move", "text", "attr"]))
        if op == "drop" and parent is not None:
            parent.remove(elem)
        elif op == "duplicate" and parent is not None:
            parent.insert(parent.index(elem), etree.fromstring(etree.tostring(elem)))
        elif op == "move" and parent is not None:
            parent.remove(elem)
            parent.insert(draw(st.integers(0, len(parent))), elem)
        elif op == "text":
            elem.text = draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20))
        elif op == "attr":
            name = draw(st.sampled_from(["type", "requires", "arch", "basearchonly", "bogus"]))
            elem.set(name, draw(st.sampled_from(["", "conditional", "true", "x86_64", "zzz"])))
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


@MANY
@given(st.one_of(byte_mutations(), tree_mutations()))
def test_comps_validate_reports_problems_never_raises(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "comps-f42.xml.in"
        path.write_bytes(data)
        try:
            problems = comps_validate.validate(path)
        except FexpkgError:
            return
    assert all(isinstance(p, comps_validate.Problem) and p.line >= 1 for p in problems)
    if data == COMPS_BYTES:
        assert problems == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("<uservisible>false</uservisible>", "<uservisible> </uservisible>", "empty <uservisible>"),
        ("<display_order>10", "<display_order><!-- -->", "empty <display_order>"),
        ("<!DOCTYPE comps", "<!DOCTYPEcomps", "libcomps: not well-formed for expat"),
    ],
)
def test_what_crashes_libcomps_is_reported_not_loaded(tmp_path, old, new, problem):
    """libcomps segfaults on these (libcomps#117, and on expat errors before the root)."""
    text = COMPS_BYTES.decode()
    assert old in text
    path = tmp_path / "comps-f42.xml.in"
    path.write_text(text.replace(old, new, 1))
    assert any(problem in str(p) for p in comps_validate.validate(path))


def test_comps_fixture_is_clean():
    assert comps_validate.validate(COMPS) == []
    assert comps_doc.is_source(COMPS)


# -- Config.json ------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
OBJECTS = st.dictionaries(st.text(max_size=8), JSON, max_size=5)
CONFIGS = st.builds(
    lambda top, config: {**top, "Config": config} if config is not None else top,
    OBJECTS,
    st.one_of(st.none(), OBJECTS),
)
KEYS = st.lists(st.text(max_size=6), min_size=1, max_size=3).map(tuple)


def _others(config, key):
    """Leaves of `config` (empty containers included) by path, but the key, what is under it
    and its ancestors (which with_key may create, replace or prune)."""
    leaves = {}

    def walk(node, path):
        if path[: len(key)] == key:
            return
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, (*path, k))
        elif key[: len(path)] != path:
            leaves[path] = node

    walk(config, ())
    return leaves


@BOUNDED
@given(CONFIGS, KEYS, JSON)
def test_with_key_sets_the_key_and_keeps_every_other(config, key, value):
    original = json.loads(json.dumps(config))
    result = with_key(config, key, value)
    assert config == original  # not mutated
    assert get_key(result, key) == value
    assert _others(result, key) == _others(original, key)


@BOUNDED
@given(CONFIGS, KEYS)
def test_with_key_removing_keeps_every_other(config, key):
    result = with_key(config, key, MISSING)
    assert get_key(result, key) is MISSING
    assert _others(result, key) == _others(config, key)


@BOUNDED
@given(CONFIGS)
def test_dumps_then_load_round_trips(config):
    with tempfile.TemporaryDirectory() as tmp:
        root = Root(tmp)
        (Path(tmp) / "c.json").write_bytes(dumps(config))
        assert load(root, "c.json") == config


DEEP = st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n)
BIG_NUMBER = st.integers(4000, 6000).map(lambda n: b'{"Config": {"n": ' + b"1" * n + b"}}")


@BOUNDED
@given(st.one_of(st.binary(max_size=200), DEEP, BIG_NUMBER, JSON.map(lambda v: dumps({"v": v}))))
def test_load_of_arbitrary_bytes_returns_a_config_or_raises_config_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Config.json").write_bytes(data)
        try:
            config = load(Root(tmp), "Config.json")
        except ConfigError as exc:
            assert str(exc).startswith(str(Path(tmp) / "Config.json"))
            assert "\n" not in str(exc)
            return
    assert isinstance(config, dict) and isinstance(config.get("Config", {}), dict)


USER_FILES = st.builds(
    lambda config, indent, sort: json.dumps(config, indent=indent, sort_keys=sort).encode(),
    CONFIGS,
    st.sampled_from([None, 0, 2, 4, "\t"]),
    st.booleans(),
)


@SLOW
@given(USER_FILES)
def test_setup_then_teardown_leaves_a_user_global_config_byte_identical(data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(FEX_INSTALLED, Path(tmp) / "root", symlinks=True))
        config = root / GLOBAL_CONFIG
        config.write_bytes(data)
        actions.setup(root, 4096, live=False, env={})
        written = load(Root(root), GLOBAL_CONFIG)
        user = json.loads(data)
        if isinstance(user.get("Config", {}), dict):
            assert (
                get_key(written, ROOTFS_KEY) == get_key(user, ROOTFS_KEY)
                or get_key(written, ROOTFS_KEY) == "/" + ROOTFS_IMAGE
            )
            assert with_key(written, ROOTFS_KEY, MISSING) == with_key(user, ROOTFS_KEY, MISSING)
        report = actions.teardown(root, live=False, env={})
        assert report.warnings == []
        assert config.read_bytes() == data
