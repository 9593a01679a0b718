"""The user guide (docs/user-guide.adoc): its examples run, and doctor's checks each have an entry.

Every `[source,console]` block of the guide follows a `// run: SCENARIO` comment. Each `$ fexpkg
...` line in it runs (`sudo` dropped) in that scenario: a copy of fixtures/roots/fex-installed set
up as `dnf install @fex-x86-emulation` leaves a system, or the checkout for the tooling. The
commands run on the scenario's root as if it were `/` (a command without --root gets it; absolute
paths are taken inside the root), and their output (stdout and stderr) must be the lines the
guide shows, read as the host would print them: the root's path becomes `/`, DNF's and fexpkg's
--installroot/--root options of the fixes go, and the page size comes from the running kernel.
An example with its own `--root DIR` shows DIR instead, with the page size's real source.
"""

import ast
import html
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from fexpkg.system import actions, doctor, messages

CHECKOUT = Path(__file__).resolve().parents[2]
GUIDE = CHECKOUT / "docs" / "user-guide.adoc"
FIXTURE_ROOT = CHECKOUT / "tests" / "fixtures" / "roots" / "fex-installed"
ROOT_COMMANDS = {"setup", "teardown", "status", "doctor"}
# muvm's guest binary names the FEX binary it looks for (see test_doctor.py).
MUVM_GUEST = "Failed to check existence of `FEXInterpreter`Failed to find `FEXInterpreter` in PATH"


class Step(NamedTuple):
    """One `$ command` of the guide with the output it shows, and its line."""

    line: int
    command: str
    output: list[str]


class Example(NamedTuple):
    """A console block: its scenario and its commands, run one after the other in one root."""

    line: int
    scenario: str
    steps: list[Step]


BLOCK = re.compile(r"^// run: (\S+)\n\[source,console\]\n----\n(.*?)^----$", re.M | re.S)


def examples(text: str) -> list[Example]:
    found = []
    for match in BLOCK.finditer(text):
        first = text.count("\n", 0, match.start(2)) + 1
        lines = match.group(2).splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
        assert starts and starts[0] == 0, f"{GUIDE.name}:{first}: a block starts with a command"
        steps = [
            Step(first + i, lines[i][2:], lines[i + 1 : end])
            for i, end in zip(starts, [*starts[1:], len(lines)], strict=True)
        ]
        found.append(Example(first, match.group(1), steps))
    return found


GUIDE_TEXT = GUIDE.read_text()
EXAMPLES = examples(GUIDE_TEXT)


def files(root: Path, *relpaths: str) -> None:
    """Files as packages install them (a path ending in / is a directory)."""
    for relpath in relpaths:
        path = root / relpath
        if relpath.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(MUVM_GUEST if relpath.endswith("muvm-guest") else "stand-in\n")


def installed(*extra: str, setup: bool = True) -> Callable[[Path], Path]:
    """A scenario: fex-emu, its RootFS, thunks and erofs-fuse, qemu's x86-64 handler, extra."""

    def make(tmp: Path) -> Path:
        root = tmp / "root"
        shutil.copytree(FIXTURE_ROOT, root, symlinks=True)
        files(root, "usr/bin/erofsfuse", "usr/lib64/fex-emu/HostThunks/", *extra)
        if setup:
            actions.setup(root, None, env={}, live=False)
        return root

    return make


SCENARIOS: dict[str, Callable[[Path], Path]] = {
    "4k": installed(),
    "4k-before-setup": installed(setup=False),
    "16k": installed(
        "usr/lib/modules/6.12.0-100.fc42.aarch64+16k/", "usr/bin/muvm", "usr/bin/muvm-guest"
    ),
    "checkout": lambda tmp: CHECKOUT,
}


def run(step: Step, root: Path, home: Path) -> tuple[int, list[str]]:
    """Run the step's command on the scenario's root; its exit status and normalised output."""
    args = shlex.split(step.command)
    if args[0] == "sudo":
        args = args[1:]
    assert args[0] == "fexpkg", f"{GUIDE.name}:{step.line}: only fexpkg commands run"
    args = args[1:]
    shown = "/"
    if root != CHECKOUT:
        if "--root" in args:
            i = args.index("--root") + 1
            shown, args[i] = args[i], str(root)
        else:
            args = [str(root) + a if a.startswith("/") else a for a in args]
            if args[0] in ROOT_COMMANDS:
                args += ["--root", str(root)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEX", "XDG_"))}
    env.update(HOME=str(home), PYTHONPATH=str(CHECKOUT / "src"), COLUMNS="100")
    proc = subprocess.run(
        [sys.executable, "-m", "fexpkg", *args],
        cwd=CHECKOUT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = proc.stdout
    if root != CHECKOUT:
        if shown == "/":
            out = out.replace(f" --installroot {root}", "").replace(f" --root {root}", "")
            out = out.replace(f"{root}/", "/").replace(str(root), "/")
            out = re.sub(
                r"\((no 16k or 64k kernel|from \S+) in /\)", "(from the running kernel)", out
            )
        else:
            out = out.replace(str(root), shown)
    return proc.returncode, out.splitlines()


def test_the_guide_has_examples_and_each_console_block_runs():
    assert len(EXAMPLES) >= 8
    assert GUIDE_TEXT.count("[source,console]") == len(BLOCK.findall(GUIDE_TEXT))
    assert {e.scenario for e in EXAMPLES} <= set(SCENARIOS)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"line{e.line}-{e.scenario}")
def test_example_prints_what_the_guide_shows(example, tmp_path):
    root = SCENARIOS[example.scenario](tmp_path)
    for step in example.steps:
        status, output = run(step, root, tmp_path / "home")
        assert output == step.output, f"{GUIDE.name}:{step.line}: $ {step.command}"
        failed = any(line.startswith(("FAIL ", "fexpkg: error:")) for line in step.output)
        assert status == (1 if failed else 0), f"{GUIDE.name}:{step.line}: exit status"


HEADING = re.compile(r"^(={2,3}) (.+)$", re.M)
SECTION_TITLE = re.compile(r'<h([23]) id="[^"]*">(.*?)</h\1>', re.S)


@pytest.mark.skipif(
    shutil.which("asciidoctor") is None, reason="asciidoctor missing (apt-get install asciidoctor)"
)
def test_asciidoctor_renders_the_guide_without_a_warning(tmp_path):
    """The real Asciidoctor renders the guide with no warning (a cross-reference to no anchor, an
    unterminated block, a section level skipped), and each `==`/`===` heading is a section title."""
    page, source = tmp_path / "user-guide.html", str(GUIDE.relative_to(CHECKOUT))
    proc = subprocess.run(
        ["asciidoctor", "--failure-level=WARN", "--verbose", "-o", str(page), source],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    headings = [(len(m[1]), m[2].replace("`", "")) for m in HEADING.finditer(GUIDE_TEXT)]
    titles = [
        (int(level), html.unescape(re.sub(r"<[^>]+>", "", title)).replace("\u2019", "'"))
        for level, title in SECTION_TITLE.findall(page.read_text())
    ]
    assert len(headings) >= 25
    missing = [title for _, title in headings if title not in {t for _, t in titles}]
    assert titles == headings, f"headings that are not section titles: {missing}"


def _strings(node: ast.AST) -> list[str]:
    constants = (n for n in ast.walk(node) if isinstance(n, ast.Constant))
    return [n.value for n in constants if isinstance(n.value, str)]


def _messages() -> dict[str, list[str]]:
    """The findings doctor words through fexpkg.system.messages: `messages.NAME` to its words."""
    found = {}
    for node in ast.parse(inspect.getsource(messages)).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            found[f"messages.{node.name}"] = [s for part in body for s in _strings(part)]
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            found[f"messages.{node.targets[0].id}"] = _strings(node.value)
    return found


MESSAGES = _messages()


def findings() -> dict[str, list[str]]:
    """Doctor's checks by name, each with the fixed words of its WARN and FAIL findings."""
    by_name: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(inspect.getsource(doctor))):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Check"):
            continue
        name, result, finding = node.args[:3]
        assert isinstance(name, ast.Constant), ast.unparse(node)
        words = by_name.setdefault(name.value, [])
        if ast.unparse(result) == "Outcome.PASS":
            continue
        worded_elsewhere = (MESSAGES.get(ast.unparse(n), []) for n in ast.walk(finding))
        parts = _strings(finding) + [text for texts in worded_elsewhere for text in texts]
        # every fixed phrase; separators (": ", " (") and values from elsewhere (str(exc)) aside
        words += [part.strip(" :,()") for part in parts if len(part.strip(" :,()")) >= 8]
    return by_name


def entries() -> dict[str, str]:
    """The guide's troubleshooting entries by check: `[[doctor-NAME]]` to the next anchor or
    chapter, whitespace folded."""
    parts = re.split(r"^\[\[doctor-([a-z-]+)\]\]$", GUIDE_TEXT, flags=re.M)
    return {
        name: " ".join(re.split(r"^== ", body, flags=re.M)[0].split())
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def test_every_doctor_check_has_an_entry_in_the_words_it_prints():
    checks, guide = findings(), entries()
    assert len(checks) >= 15
    assert sorted(guide) == sorted(checks)
    for name, words in checks.items():
        assert guide[name].startswith(f"=== {name} "), f"entry doctor-{name} has no title"
        for text in words:
            assert " ".join(text.split()) in guide[name], f"doctor-{name} lacks {text!r}"
