"""fexpkg's manual pages and shell completions, generated from its parser (fexpkg.dev.manual)."""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fexpkg.cli import GROUPS, build_parser, commands
from fexpkg.dev import manual

pytest.importorskip("argparse_manpage", reason="argparse-manpage missing (pip install .[docs])")
pytest.importorskip("shtab", reason="shtab missing (pip install .[docs])")

# The commands the RPM installs: the checkout's development commands have no pages.
COMMANDS = commands(build_parser(GROUPS))


def actions_of(parser: argparse.ArgumentParser) -> list[str]:
    """The sub-commands of a command (comps: validate, merge, render), from its parser."""
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [name for action in found for name in action.choices]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return manual.pages(date="2026-01-01")


def render(text: str, tmp_path: Path) -> str:
    """The page as man shows it (plain text); fails on any groff warning."""
    page = tmp_path / "page.1"
    page.write_text(text)
    proc = subprocess.run(
        # ASCII on lines too long to break: no hyphenation, "-" as typed
        ["groff", "-man", "-ww", "-Tascii", "-rLL=4000n", "-P-cbou", str(page)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return " ".join(proc.stdout.split())


def test_a_page_for_fexpkg_and_each_command(pages):
    assert sorted(pages) == sorted(["fexpkg.1", *(f"fexpkg-{name}.1" for name in COMMANDS)])
    assert set(COMMANDS) >= {"setup", "teardown", "status", "doctor", "comps", "spec", "kiwi"}


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff missing (apt-get install groff)")
def test_pages_render_without_warnings_and_name_every_command(pages, tmp_path):
    main = render(pages["fexpkg.1"], tmp_path)
    assert main.startswith("FEXPKG(1)")
    assert "NAME fexpkg - set up the FEX x86 emulator on Fedora AArch64" in main
    for name, command in COMMANDS.items():
        assert f"fexpkg {name}" in main
        assert f"fexpkg-{name}(1)" in main  # SEE ALSO
        text = render(pages[f"fexpkg-{name}.1"], tmp_path)
        assert text.startswith(f"FEXPKG-{name.upper()}(1)")
        assert f"NAME fexpkg-{name} - {' '.join(command.summary.split())}" in text
        assert f"fexpkg {name}" in text  # SYNOPSIS
        for action in actions_of(command.parser):
            assert f"fexpkg {name} {action}" in text
            assert f"fexpkg {name} {action}" in main


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff missing (apt-get install groff)")
def test_help_reads_as_the_man_page(pages, tmp_path):
    """Each command's --help description is its page's DESCRIPTION, word for word."""
    main = render(pages["fexpkg.1"], tmp_path)
    parser = build_parser(GROUPS)
    assert " ".join(parser.description.split()) in main
    assert " ".join(parser.epilog.split()) in main
    for name, command in COMMANDS.items():
        sub = command.parser
        assert sub.description, f"fexpkg {name} has no description for --help and its page"
        text = render(pages[f"fexpkg-{name}.1"], tmp_path)
        assert " ".join(sub.description.split()) in text, name


def test_pages_are_reproducible_with_a_date(pages):
    assert manual.pages(date="2026-01-01") == pages
    assert pages["fexpkg.1"].startswith('.TH FEXPKG "1" "2026\\-01\\-01" "fexpkg ')


def bash_complete(script: Path, line: str) -> list[str]:
    """What bash's completion of `fexpkg` offers for `line` (the cursor at its end)."""
    words = line.split() + ([""] if line.endswith(" ") else [])
    program = f"""
        source {script}
        func=$(complete -p fexpkg | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
        COMP_WORDS=({" ".join(f"'{w}'" for w in words)})
        COMP_CWORD={len(words) - 1}
        COMP_LINE='{line}'
        COMP_POINT={len(line)}
        "$func" fexpkg '{words[-1]}' '{words[-2]}'
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    proc = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("manual")
    manual.write(out, date="2026-01-01")
    return out


def test_bash_completes_commands_and_their_options(written):
    script = written / "completions" / "fexpkg"
    assert bash_complete(script, "fexpkg se") == ["setup"]
    assert set(bash_complete(script, "fexpkg ")) == set(COMMANDS)
    assert bash_complete(script, "fexpkg comps va") == ["validate"]
    assert "--page-size" in bash_complete(script, "fexpkg doctor --")


def test_bash_completes_directories_for_root(written, tmp_path):
    (tmp_path / "image").mkdir()
    (tmp_path / "image.txt").write_text("")
    assert bash_complete(
        written / "completions" / "fexpkg", f"fexpkg status --root {tmp_path}/im"
    ) == [f"{tmp_path}/image"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh missing (apt-get install zsh)")
def test_zsh_script_parses_and_names_every_command(written):
    script = written / "completions" / manual.COMPLETIONS["zsh"]
    assert script.name == "_fexpkg" and script.read_text().startswith("#compdef fexpkg")
    proc = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for command in COMMANDS:
        assert re.search(rf"^ *\"?{command}[:\"]", script.read_text(), re.M), command


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish missing (apt-get install fish)")
def test_fish_completes_a_command(written):
    script = written / "completions" / manual.COMPLETIONS["fish"]
    proc = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C 'fexpkg se'"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert line.startswith("setup\t")  # then shtab's choice of help or description


def test_main_writes_pages_and_completions(tmp_path, capsys):
    assert manual.main([str(tmp_path), "--version", "9.9"]) == 0
    listed = capsys.readouterr().out.split()
    assert str(tmp_path / "man1" / "fexpkg-doctor.1") in listed
    assert sorted(p.name for p in (tmp_path / "completions").iterdir()) == sorted(
        manual.COMPLETIONS.values()
    )
    assert '"fexpkg 9.9"' in (tmp_path / "man1" / "fexpkg.1").read_text()


def test_a_missing_generator_is_one_line_naming_the_package(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "argparse_manpage", None)
    monkeypatch.setitem(sys.modules, "argparse_manpage.manpage", None)
    assert manual.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fexpkg: error: the Python module argparse_manpage")
    assert "sudo dnf install python3-argparse-manpage" in err
