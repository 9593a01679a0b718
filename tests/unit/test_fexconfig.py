"""FEX Config.json reading, key changes and the RootFS in effect."""

import json
from pathlib import Path

import pytest

from fexpkg.confined import Root
from fexpkg.errors import ConfigError
from fexpkg.system.fexconfig import (
    MISSING,
    ROOTFS_KEY,
    RootFSInEffect,
    RootFSOrigin,
    UserDirs,
    dumps,
    get_key,
    load,
    resolve_rootfs,
    rootfs_path,
    user_config_path,
    user_dirs,
    with_key,
)

HOME = Path("/home/u")


@pytest.fixture
def root(tmp_path):
    return Root(tmp_path)


def put(root, relpath, data=b""):
    path = root.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())


def test_load_missing_and_valid(root):
    assert load(root, "usr/share/fex-emu/Config.json") is None
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "x"}, "ThunksDB": {"GL": 1}})
    assert load(root, "usr/share/fex-emu/Config.json")["ThunksDB"] == {"GL": 1}


def test_broken_json_names_file_and_line(root):
    put(root, "usr/share/fex-emu/Config.json", b'{\n  "Config": {\n    "RootFS": ,\n  }\n}\n')
    with pytest.raises(ConfigError, match=r"Config\.json:3: invalid JSON"):
        load(root, "usr/share/fex-emu/Config.json")


def test_non_object_is_an_error(root):
    put(root, "c.json", b'{"Config": []}')
    with pytest.raises(ConfigError) as info:
        load(root, "c.json")
    assert str(info.value) == (
        f'{root.path}/c.json: expected {{"Config": {{...}}}}; fix it, fexpkg leaves it alone'
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"Config": "\xff"}', "not UTF-8 (invalid start byte); fix it"),
        (
            b'{"a": ' + b"1" * 5000 + b"}",
            "unreadable JSON (Exceeds the limit (4300 digits) for integer string conversion); "
            "fix it, fexpkg leaves it alone",
        ),
        (
            b"[" * 100000,
            "unreadable JSON (maximum recursion depth exceeded while decoding a JSON array from a "
            "unicode string); fix it, fexpkg leaves it alone",
        ),
    ],
    ids=["not-utf8", "number-too-long", "nested-too-deep"],
)
def test_unreadable_config_is_one_line_naming_the_file(root, data, message):
    put(root, "c.json", data)
    with pytest.raises(ConfigError) as info:
        load(root, "c.json")
    assert str(info.value) == f"{root.path}/c.json: {message}"


def test_directory_is_not_a_config(root):
    (root.path / "c.json").mkdir()
    with pytest.raises(ConfigError) as info:
        load(root, "c.json")
    assert str(info.value) == f"{root.path}/c.json is a directory, not a FEX config"


def test_with_key_sets_and_removes_keeping_others():
    config = {"Config": {"Multiblock": "1"}, "ThunksDB": {"GL": 1}}
    added = with_key(config, ROOTFS_KEY, "default.erofs")
    assert added == {
        "Config": {"Multiblock": "1", "RootFS": "default.erofs"},
        "ThunksDB": {"GL": 1},
    }
    assert config == {"Config": {"Multiblock": "1"}, "ThunksDB": {"GL": 1}}  # not mutated
    assert with_key(added, ROOTFS_KEY, MISSING) == config
    assert with_key({"Config": {"RootFS": "x"}}, ROOTFS_KEY, MISSING) == {}
    assert get_key(config, ROOTFS_KEY) is MISSING
    assert get_key(None, ROOTFS_KEY) is MISSING


def test_with_key_at_other_depths():
    assert with_key({"b": 2}, ("a",), 1) == {"a": 1, "b": 2}
    assert with_key({"a": 1, "b": 2}, ("a",), MISSING) == {"b": 2}
    assert with_key({"x": 0}, ("a", "b", "c"), 1) == {"x": 0, "a": {"b": {"c": 1}}}
    deep = {"a": {"b": {"c": 1}, "y": 2}, "x": 0}
    assert with_key(deep, ("a", "b", "c"), MISSING) == {"a": {"y": 2}, "x": 0}
    assert with_key({"a": {"b": {"c": 1}}}, ("a", "b", "c"), MISSING) == {}
    assert with_key({"a": {"b": 1}}, ("a", "b", "c"), MISSING) == {"a": {"b": 1}}


def test_dumps_is_two_space_indented_utf8_with_a_final_newline():
    config = {"Config": {"RootFS": "/srv/ré", "Multiblock": "1"}}
    assert dumps(config) == (
        '{\n  "Config": {\n    "RootFS": "/srv/ré",\n    "Multiblock": "1"\n  }\n}\n'.encode()
    )


def test_user_config_location(root):
    assert user_config_path(root, {}, HOME) == "home/u/.config/fex-emu/Config.json"
    assert user_config_path(root, {"XDG_CONFIG_HOME": "/x"}, HOME) == "x/fex-emu/Config.json"
    assert user_config_path(root, {"XDG_CONFIG_HOME": ""}, HOME) == "fex-emu/Config.json"
    env = {"FEX_APP_CONFIG_LOCATION": "/app/", "XDG_CONFIG_HOME": "/x"}
    assert user_config_path(root, env, HOME) == "app/Config.json"
    # FEX concatenates: an override without its trailing slash names a sibling file
    assert user_config_path(root, {"FEX_APP_CONFIG_LOCATION": "/app"}, HOME) == "appConfig.json"
    relative = {"FEX_APP_CONFIG_LOCATION": "c/"}
    assert user_config_path(root, relative, HOME, "/w") == "w/c/Config.json"
    assert user_config_path(root, relative, HOME) == "c/Config.json"
    assert user_config_path(root, {"XDG_CONFIG_HOME": "/Xdg"}, HOME) == "Xdg/fex-emu/Config.json"
    (root.path / "home/u/.fex-emu").mkdir(parents=True)
    assert user_config_path(root, env, HOME) == "home/u/.fex-emu/Config.json"


def test_user_dirs(root):
    assert user_dirs(root, {}, HOME) == UserDirs(
        "/home/u/.local/share/fex-emu/", "/home/u/.config/fex-emu/"
    )
    env = {"FEX_APP_DATA_LOCATION": "/d/", "XDG_DATA_HOME": "/x", "XDG_CONFIG_HOME": "/y"}
    assert user_dirs(root, env, HOME) == UserDirs("/d/", "/y/fex-emu/")
    assert user_dirs(root, {"XDG_DATA_HOME": "/x"}, HOME).data == "/x/fex-emu/"
    relative = {"XDG_DATA_HOME": "x", "FEX_APP_CONFIG_LOCATION": "c/"}
    assert user_dirs(root, relative, HOME, "/w") == UserDirs("/w/x/fex-emu/", "/w/c/")
    assert user_dirs(root, relative, HOME) == UserDirs("/x/fex-emu/", "/c/")
    (root.path / "home/u/.fex-emu").mkdir(parents=True)
    assert user_dirs(root, env, HOME) == UserDirs("/home/u/.fex-emu/", "/home/u/.fex-emu/")


def test_rootfs_unset(root):
    assert resolve_rootfs(root, {}, HOME) == RootFSInEffect(None, None, RootFSOrigin.NOT_SET, False)


def test_unresolved_name_reports_where_the_packaged_image_would_be(root):
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "mine"}})
    assert resolve_rootfs(root, {}, HOME) == RootFSInEffect(
        "mine",
        "/usr/share/fex-emu/RootFS/mine",
        RootFSOrigin.GLOBAL_CONFIG,
        False,
        "usr/share/fex-emu/Config.json",
    )


def test_home_comes_from_the_environment_and_cwd_defaults_to_slash(root):
    put(root, "home/v/.config/fex-emu/Config.json", {"Config": {"RootFS": "img.erofs"}})
    put(root, "img.erofs")
    assert resolve_rootfs(root, {"HOME": "/home/v"}) == RootFSInEffect(
        "img.erofs",
        "/img.erofs",
        RootFSOrigin.USER_CONFIG,
        True,
        "home/v/.config/fex-emu/Config.json",
    )


def test_relative_user_config_location_is_taken_from_the_current_directory(root):
    put(root, "w/c/Config.json", {"Config": {"RootFS": "/opt/r"}})
    env = {"FEX_APP_CONFIG_LOCATION": "c/"}
    assert resolve_rootfs(root, env, HOME, "/w").source == "/w/c/Config.json"
    assert resolve_rootfs(root, env, HOME).source == "not set"


def test_bare_name_under_global_data_dir(root):
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "default.erofs"}})
    found = resolve_rootfs(root, {}, HOME)
    assert found.path == "/usr/share/fex-emu/RootFS/default.erofs" and not found.exists
    assert found.source == "/usr/share/fex-emu/Config.json"
    put(root, "usr/share/fex-emu/RootFS/default.erofs")
    assert resolve_rootfs(root, {}, HOME).exists


def test_bare_name_under_user_data_dir_first(root):
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "mine"}})
    put(root, "usr/share/fex-emu/RootFS/mine")
    put(root, "home/u/.fex-emu/RootFS/mine")
    assert resolve_rootfs(root, {}, HOME).path == "/home/u/.fex-emu/RootFS/mine"


def test_bare_name_last_existing_directory_wins(root):
    """Global data, global config, user data, user config: the last that holds it wins."""
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "default.erofs"}})
    put(root, "usr/share/fex-emu/RootFS/default.erofs")
    put(root, "home/u/.local/share/fex-emu/RootFS/default.erofs")
    assert resolve_rootfs(root, {}, HOME).path == (
        "/home/u/.local/share/fex-emu/RootFS/default.erofs"
    )
    put(root, "home/u/.config/fex-emu/RootFS/default.erofs")
    assert resolve_rootfs(root, {}, HOME).path == "/home/u/.config/fex-emu/RootFS/default.erofs"
    put(root, "srv/data/RootFS/default.erofs")
    env = {"FEX_APP_DATA_LOCATION": "/srv/data/", "XDG_CONFIG_HOME": "/nowhere"}
    assert resolve_rootfs(root, env, HOME).path == "/srv/data/RootFS/default.erofs"


def test_relative_name_in_the_current_directory_comes_first(root):
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "default.erofs"}})
    put(root, "usr/share/fex-emu/RootFS/default.erofs")
    put(root, "home/u/games/default.erofs")
    found = resolve_rootfs(root, {}, HOME, cwd="/home/u/games")
    assert (found.path, found.exists) == ("/home/u/games/default.erofs", True)
    assert resolve_rootfs(root, {}, HOME, cwd="/").path == "/usr/share/fex-emu/RootFS/default.erofs"


def test_relative_name_is_looked_up_in_slash_by_default(root):
    put(root, "img.erofs")
    assert rootfs_path(root, "img.erofs", {}, HOME) == "/img.erofs"


def test_relative_user_data_location_is_taken_from_the_current_directory(root):
    put(root, "w/d/RootFS/img.erofs")
    env = {"FEX_APP_DATA_LOCATION": "d/"}
    assert rootfs_path(root, "img.erofs", env, HOME, "/w") == "/w/d/RootFS/img.erofs"
    assert rootfs_path(root, "img.erofs", env, HOME, "/") is None


def test_absolute_and_home_paths_are_not_looked_up(root):
    absolute = "/usr/share/fex-emu/RootFS/default.erofs"
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": absolute}})
    put(root, absolute.lstrip("/"))
    put(root, "home/u/.fex-emu/RootFS/usr/share/fex-emu/RootFS/default.erofs")
    found = resolve_rootfs(root, {}, HOME, cwd="/home/u")
    assert (found.path, found.exists) == (absolute, True)
    found = resolve_rootfs(root, {"FEX_ROOTFS": "~/r"}, HOME)
    assert (found.path, found.exists) == ("/home/u/r", False)


def test_user_then_env_override(root):
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "default.erofs"}})
    put(root, "home/u/.config/fex-emu/Config.json", {"Config": {"RootFS": "/opt/rootfs"}})
    found = resolve_rootfs(root, {}, HOME)
    assert (found.value, found.source) == ("/opt/rootfs", "/home/u/.config/fex-emu/Config.json")
    found = resolve_rootfs(root, {"FEX_ROOTFS": "/srv/r"}, HOME)
    assert (found.value, found.path, found.source) == ("/srv/r", "/srv/r", "FEX_ROOTFS")


def test_empty_value_overrides_too(root):
    """FEX takes FEX_ROOTFS= and "RootFS": "" as set: no RootFS at all."""
    put(root, "usr/share/fex-emu/Config.json", {"Config": {"RootFS": "/opt/rootfs"}})
    put(root, "opt/rootfs")
    empty = resolve_rootfs(root, {"FEX_ROOTFS": ""}, HOME)
    assert (empty.value, empty.path, empty.source, empty.exists) == ("", None, "FEX_ROOTFS", False)
    put(root, "home/u/.config/fex-emu/Config.json", {"Config": {"RootFS": ""}})
    empty = resolve_rootfs(root, {}, HOME)
    assert (empty.value, empty.source) == ("", "/home/u/.config/fex-emu/Config.json")


def test_rootfs_in_effect_for_status_json():
    found = RootFSInEffect(
        "r", "/r", RootFSOrigin.USER_CONFIG, True, "home/u/.config/fex-emu/x.json"
    )
    assert found.as_dict() == {
        "value": "r",
        "path": "/r",
        "source": "/home/u/.config/fex-emu/x.json",
        "exists": True,
    }
    unset = RootFSInEffect(None, None, RootFSOrigin.NOT_SET, False)
    assert unset.as_dict() == {"value": None, "path": None, "source": "not set", "exists": False}
