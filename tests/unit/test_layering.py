"""The package tree's import rules: each domain imports only what `RULES` allows it.

Every `import` counts, at module level or inside a function (a lazy import is still a dependency
of the installed package). The standard library is always allowed.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
SHARED = frozenset({"fexpkg", "fexpkg.confined", "fexpkg.errors", "fexpkg.names", "fexpkg.problem"})
DOMAINS = ("fexpkg.system", "fexpkg.rootfs", "fexpkg.comps", "fexpkg.packaging", "fexpkg.cli")

#: domain -> (fexpkg domains it may import besides the shared modules, third-party packages).
#: fexpkg.dev (the checkout's harnesses, not installed by the RPM) may import anything.
RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "shared": (frozenset(), frozenset()),
    "fexpkg.system": (frozenset({"fexpkg.system", "fexpkg.rootfs"}), frozenset()),
    "fexpkg.rootfs": (frozenset({"fexpkg.rootfs"}), frozenset()),
    "fexpkg.comps": (frozenset({"fexpkg.comps"}), frozenset({"lxml", "libcomps"})),
    "fexpkg.packaging": (
        frozenset({"fexpkg.packaging"}),
        frozenset({"lxml", "rpm", "kiwi", "license_expression", "dnf", "libdnf"}),
    ),
    "fexpkg.cli": (frozenset({*DOMAINS, "fexpkg.dev"}), frozenset()),
}
#: The DNF 4 plugin's steps: the one system module that talks to DNF.
EXCEPTIONS = {"fexpkg.system.dnf4": frozenset({"dnf", "libdnf"})}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "fexpkg").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _domain(module: str) -> str:
    if module in SHARED:
        return "shared"
    if module == "fexpkg.__main__":
        return "fexpkg.cli"
    for domain in (*DOMAINS, "fexpkg.dev"):
        if module == domain or module.startswith(domain + "."):
            return domain
    raise AssertionError(f"{module} is in no domain: add it to RULES")


def _imports(path: Path, module: str) -> list[tuple[int, str, bool]]:
    """(line, imported module, whether at module level) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:  # `from fexpkg.x import y`: y may be a module or a name
                name = f"{base}.{alias.name}"
                found.append(
                    (node.lineno, name if name in MODULES else base, id(node) in top_level)
                )
    return found


def _allowed(module: str, imported: str) -> bool:
    domain = _domain(module)
    root = imported.split(".")[0]
    if domain == "fexpkg.dev" or root in sys.stdlib_module_names or root == "__future__":
        return True
    packages, third_party = RULES[domain]
    if root != "fexpkg":
        return root in third_party or root in EXCEPTIONS.get(module, ())
    target = _domain(imported)
    return target == "shared" or target in packages


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_only_what_its_domain_allows(module: str) -> None:
    path = MODULES[module]
    imports = _imports(path, module)
    wrong = [
        f"{path.name}:{line}: {name}" for line, name, _ in imports if not _allowed(module, name)
    ]
    assert wrong == []


@pytest.mark.parametrize("module", [m for m in MODULES if _domain(m) == "fexpkg.cli"])
def test_cli_imports_a_domain_only_when_its_command_runs(module: str) -> None:
    path = MODULES[module]
    eager = [
        f"{path.name}:{line}: {name}"
        for line, name, top in _imports(path, module)
        if top and name.startswith("fexpkg") and _domain(name) not in ("shared", "fexpkg.cli")
    ]
    assert eager == []


def test_a_planted_violation_is_found(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import lxml\nfrom fexpkg import errors\n\ndef f():\n    from fexpkg.comps import merge\n"
    )
    found = [(name, top) for _, name, top in _imports(bad, "fexpkg.system.bad")]
    assert found == [("lxml", True), ("fexpkg.errors", True), ("fexpkg.comps.merge", False)]
    assert [n for n, _ in found if not _allowed("fexpkg.system.bad", n)] == [
        "lxml",
        "fexpkg.comps.merge",
    ]
    assert _allowed("fexpkg.comps.bad", "fexpkg.packaging.specs") is False
    assert _allowed("fexpkg.packaging.bad", "fexpkg.comps.document") is False
    assert _allowed("fexpkg.system.dnf4", "dnf") and not _allowed("fexpkg.system.plan", "dnf")
