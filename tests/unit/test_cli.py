"""The `fexpkg` command line: each command's group, built alone for the command it runs."""

from __future__ import annotations

import pytest

from fexpkg import cli


@pytest.mark.parametrize("group", cli._groups(), ids=lambda g: g.__name__)
def test_each_group_declares_the_commands_it_registers(group) -> None:
    assert tuple(cli.commands(cli.build_parser((group,)))) == group.COMMANDS


def test_the_command_names_its_group_alone() -> None:
    assert cli._owner(["-v", "status", "--root", "/r"]) == (cli.root,)
    assert cli._owner(["comps", "validate", "f.xml"]) == (cli.comps,)
    assert cli._owner(["spin", "check"]) == (cli.comps,)


@pytest.mark.parametrize("argv", [[], ["--version"], ["-v"], ["no-such-command"]])
def test_without_a_known_command_every_group_is_built(argv: list[str]) -> None:
    assert cli._owner(argv) is None


def test_an_unknown_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    for name in cli.commands(cli.build_parser()):
        assert f"'{name}'" in err


def test_a_commands_help_is_the_same_built_alone(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["status", "--help"])
    alone = capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["status", "--help"])
    assert alone == capsys.readouterr().out
    assert "usage: fexpkg status" in alone
