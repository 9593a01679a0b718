"""comps_merge: textual, sorted, idempotent, atomic merges."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fexpkg.comps import document as comps_doc
from fexpkg.comps import merge as comps_merge
from fexpkg.comps import validate as comps_validate
from fexpkg.dev import checkout
from fexpkg.dev.comps_synth import synthetic_comps
from fexpkg.errors import CompsError, RootWriteError

OPTION = "      <groupid>fex-x86-emulation</groupid>\n"


def assert_only_added(before: str, after: str) -> list[str]:
    """Assert `after` is `before` plus the group block and the option line; return its lines."""
    lines = after.splitlines(True)
    start = lines.index(group_block()[1]) - 1
    block = group_block()
    assert lines[start : start + len(block)] == block
    rest = lines[:start] + lines[start + len(block) :]
    rest.remove(OPTION)
    assert "".join(rest) == before
    return lines


def group_block() -> list[str]:
    lines = checkout.PROJECT_COMPS.read_text().splitlines(True)
    start = lines.index("  <group>\n")
    return lines[start : lines.index("  </group>\n", start) + 1]


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "comps-f42.xml.in"
    shutil.copy(checkout.FIXTURE_COMPS, path)
    return path


def test_merge_into_fixture_adds_only_the_group_and_option(target: Path) -> None:
    before = target.read_text()
    assert comps_merge.merge(target, checkout.PROJECT_COMPS) is True
    lines = assert_only_added(before, target.read_text())
    start = lines.index(group_block()[1]) - 1
    assert start > lines.index("    <id>core</id>\n")
    # after core, and before the comment that belongs to kde-apps
    assert lines[start + len(group_block())].startswith("  <!-- KDE:")
    env = lines.index("    <id>kde-desktop-environment</id>\n")
    options = lines.index("    <optionlist>\n", env)
    assert lines[options + 1 : options + 4] == [
        "      <groupid>arm-tools</groupid>\n",
        OPTION,
        '      <groupid default="true">kde-apps</groupid>\n',
    ]
    assert comps_validate.validate(target) == []


def test_second_merge_is_a_no_op(target: Path) -> None:
    comps_merge.merge(target, checkout.PROJECT_COMPS)
    once = target.read_bytes()
    inode = target.stat().st_ino
    assert comps_merge.merge(target, checkout.PROJECT_COMPS) is False
    assert target.read_bytes() == once
    assert target.stat().st_ino == inode  # not even rewritten


def test_check_reports_without_writing(target: Path) -> None:
    before = target.read_bytes()
    assert comps_merge.merge(target, checkout.PROJECT_COMPS, check=True) is True
    assert target.read_bytes() == before
    comps_merge.merge(target, checkout.PROJECT_COMPS)
    assert comps_merge.merge(target, checkout.PROJECT_COMPS, check=True) is False


def test_merge_into_fedora_size_file_changes_only_expected_lines(tmp_path: Path) -> None:
    big = tmp_path / "comps-big.xml.in"
    big.write_text(synthetic_comps())
    before = big.read_text()
    assert len(before.splitlines()) > 20000
    comps_merge.merge(big, checkout.PROJECT_COMPS)
    lines = assert_only_added(before, big.read_text())
    start = lines.index(group_block()[1]) - 1
    # "FEX..." sorts before "GROUP-0000", and goes above that group's comment
    assert lines[start + len(group_block())] == "  <!-- group-0000: generated group -->\n"
    env = lines.index("    <id>kde-desktop-environment</id>\n")
    assert lines.index(OPTION) == lines.index("    <optionlist>\n", env) + 1
    assert comps_merge.merge(big, checkout.PROJECT_COMPS) is False
    assert comps_validate.validate(big) == []


def test_merge_replaces_an_outdated_group(target: Path) -> None:
    comps_merge.merge(target, checkout.PROJECT_COMPS)
    merged = target.read_text()
    target.write_text(merged.replace("<_name>x86 Emulation</_name>", "<_name>Old</_name>"))
    assert comps_merge.merge(target, checkout.PROJECT_COMPS) is True
    assert target.read_text() == merged


def test_option_appended_when_optionlist_is_unsorted(target: Path) -> None:
    text = target.read_text().replace(
        '      <groupid>arm-tools</groupid>\n      <groupid default="true">kde-apps</groupid>\n',
        '      <groupid default="true">kde-apps</groupid>\n      <groupid>arm-tools</groupid>\n',
    )
    target.write_text(text)
    comps_merge.merge(target, checkout.PROJECT_COMPS)
    after = target.read_text()
    assert "<groupid>arm-tools</groupid>\n" + OPTION + "    </optionlist>\n" in after


def test_optionlist_created_when_missing(target: Path) -> None:
    lines = target.read_text().splitlines(True)
    env = lines.index("    <id>kde-desktop-environment</id>\n")
    start = lines.index("    <optionlist>\n", env)
    del lines[start - 1 : start + 4]  # its comment and the optionlist
    target.write_text("".join(lines))
    comps_merge.merge(target, checkout.PROJECT_COMPS)
    after = target.read_text()
    assert (
        "      <groupid>kde-desktop</groupid>\n    </grouplist>\n    <optionlist>\n"
        + OPTION
        + "    </optionlist>\n  </environment>\n"
        in after
    )
    assert comps_validate.validate(target) == []


def test_merge_into_rendered_file_renders_the_group(tmp_path: Path) -> None:
    rendered = tmp_path / "comps-f42.xml"
    comps_doc.render(checkout.FIXTURE_COMPS, rendered)
    comps_merge.merge(rendered, checkout.PROJECT_COMPS)
    text = rendered.read_text()
    assert "<name>x86 Emulation</name>" in text and "<_name>" not in text
    assert comps_validate.validate(rendered) == []


def test_malformed_target_is_left_untouched(target: Path) -> None:
    target.write_text(target.read_text().replace("</comps>", ""))
    before = target.read_bytes()
    with pytest.raises(CompsError) as err:
        comps_merge.merge(target, checkout.PROJECT_COMPS)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{target}:")
    assert "not well-formed XML" in str(err.value)
    assert target.read_bytes() == before


def test_missing_environment_is_an_error(target: Path) -> None:
    text = target.read_text()
    target.write_text(
        text.replace(
            "<id>kde-desktop-environment</id>\n    <_name>KDE P",
            "<id>kde-environment</id>\n    <_name>KDE P",
        )
    )
    with pytest.raises(
        CompsError,
        match="has no environment 'kde-desktop-environment' to add 'fex-x86-emulation' to",
    ):
        comps_merge.merge(target, checkout.PROJECT_COMPS)


def test_unexpected_layout_is_an_error(target: Path) -> None:
    target.write_text(
        target.read_text().replace(
            "  </group>\n  <group>\n    <id>core", "  </group><group>\n    <id>core"
        )
    )
    with pytest.raises(CompsError, match=r":9: cannot merge: <group> must begin a line"):
        comps_merge.merge(target, checkout.PROJECT_COMPS)


def test_merging_into_a_fragment_is_an_error(tmp_path: Path) -> None:
    frag = tmp_path / "frag.xml.in"
    shutil.copy(checkout.PROJECT_COMPS, frag)
    with pytest.raises(CompsError, match="is a fragment"):
        comps_merge.merge(frag, checkout.PROJECT_COMPS)


def test_write_is_atomic(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = target.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "rename", fail)
    with pytest.raises(RootWriteError, match=f"^cannot write {target}: simulated"):
        comps_merge.merge(target, checkout.PROJECT_COMPS)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    monkeypatch.undo()
    mode = 0o640
    target.chmod(mode)
    comps_merge.merge(target, checkout.PROJECT_COMPS)
    assert target.stat().st_mode & 0o777 == mode


def test_merge_that_would_bring_a_problem_writes_nothing(target: Path, tmp_path: Path) -> None:
    addition = tmp_path / "dangling.xml.in"
    addition.write_text(
        checkout.PROJECT_COMPS.read_text().replace(
            "<groupid>fex-x86-emulation</groupid>", "<groupid>no-such-group</groupid>"
        )
    )
    before = target.read_bytes()
    with pytest.raises(comps_merge.MergeWouldBreak, match="would bring 1 problem") as caught:
        comps_merge.merge(target, addition)
    assert [p.message for p in caught.value.problems] == [
        "environment 'kde-desktop-environment' refers to unknown group 'no-such-group'"
    ]
    assert target.read_bytes() == before


def test_merge_ignores_what_the_target_already_had(tmp_path: Path) -> None:
    """Fedora's files carry dangling references and empty descriptions: not the merge's."""
    text = checkout.FIXTURE_COMPS.read_text()
    text = text.replace("</grouplist>", "  <groupid>eclipse</groupid>\n    </grouplist>", 1)
    target = tmp_path / "comps-f41.xml.in"
    target.write_text(text)
    assert any(p.severity == "warning" for p in comps_validate.validate(target))
    assert comps_merge.merge(target, checkout.PROJECT_COMPS) is True
    assert not comps_validate.failed(comps_validate.validate(target))
