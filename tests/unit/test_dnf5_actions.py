"""The DNF 5 actions file: parsed by libdnf5's documented format and checked against the plugin."""

from pathlib import Path

import pytest

from fexpkg.dev.dnf5_actions import ActionsError, PackageChange, commands, parse, split_command
from fexpkg.names import FEX_PACKAGE, WATCHED

ACTIONS = Path(__file__).resolve().parents[2] / "dnf-plugins" / "fexpkg.actions"
CONF = {"installroot": "/mnt/sysimage"}


def test_project_actions_file_parses():
    actions = parse(ACTIONS)
    assert {a.callback for a in actions} == {"pre_transaction", "post_transaction"}
    assert all(a.command.startswith("/usr/bin/fexpkg ") for a in actions)


def test_actions_file_watches_what_the_dnf4_plugin_watches():
    watched = {a.package_filter for a in parse(ACTIONS) if a.callback == "post_transaction"}
    assert watched == set(WATCHED)


def test_install_runs_setup_once_for_the_installroot():
    changes = [PackageChange(FEX_PACKAGE, "in"), PackageChange("muvm", "in")]
    actions = parse(ACTIONS)
    assert commands(actions, "pre_transaction", changes, CONF) == []
    assert commands(actions, "post_transaction", changes, CONF) == [
        ["/usr/bin/fexpkg", "setup", "--root", "/mnt/sysimage"]
    ]


def test_removal_tears_down_before_the_transaction():
    changes = [PackageChange(FEX_PACKAGE, "out")]
    actions = parse(ACTIONS)
    assert commands(actions, "pre_transaction", changes, CONF) == [
        ["/usr/bin/fexpkg", "teardown", "--root", "/mnt/sysimage"]
    ]


def test_unrelated_transaction_runs_nothing():
    changes = [PackageChange("kate", "in"), PackageChange("vim", "out")]
    actions = parse(ACTIONS)
    assert commands(actions, "pre_transaction", changes, CONF) == []
    assert commands(actions, "post_transaction", changes, CONF) == []


def test_split_command_unescapes_after_splitting():
    assert split_command(r"/bin/sh -c echo\ a\ b x\\y") == ["/bin/sh", "-c", "echo a b", "x\\y"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("post_transaction:fex-emu:in:/usr/bin/x", "expected 5 colon-separated fields"),
        ("after_everything::::/usr/bin/x", "unknown callback 'after_everything'"),
        ("pre_base_setup:fex-emu:::/usr/bin/x", "a package filter is only allowed for"),
        ("post_transaction:fex-emu:sideways::/usr/bin/x", "direction must be 'in', 'out' or empty"),
        ("post_transaction::in::/usr/bin/x", "a direction needs a package filter"),
        ("post_transaction:fex-emu:in::", "empty command"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.actions"
    path.write_text(f"# comment\n\n{line}\n")
    with pytest.raises(ActionsError, match=f"^{path}:3: {message}"):
        parse(path)
