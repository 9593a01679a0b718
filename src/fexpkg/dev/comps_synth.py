"""Generate a Fedora-size comps `.xml.in` (for tests and the benchmark): valid and sorted."""

from __future__ import annotations

from xml.sax.saxutils import escape

_TYPES = ("mandatory", "conditional", "default", "optional")


def synthetic_comps(groups: int = 400, environments: int = 60, packagereqs: int = 20000) -> str:
    """A complete comps source file laid out and sorted as fedora-comps' files are.

    Groups are `group-NNNN`; environment 0 is `kde-desktop-environment`, whose
    optionlist is sorted; every fifth group is preceded by a comment.
    """
    per_group = max(1, packagereqs // groups)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">',
        "<comps>",
    ]
    ids = [f"group-{i:04d}" for i in range(groups)]
    for i, gid in enumerate(ids):
        if i % 5 == 0:
            out.append(f"  <!-- {escape(gid)}: generated group -->")
        out += [
            "  <group>",
            f"    <id>{gid}</id>",
            f"    <_name>Group {i}</_name>",
            f"    <_description>Generated group number {i}.</_description>",
            "    <default>false</default>",
            "    <uservisible>true</uservisible>",
            "    <packagelist>",
        ]
        reqs = sorted(((n % len(_TYPES)), f"pkg-{i:04d}-{n:03d}") for n in range(per_group))
        for rank, name in reqs:
            kind = _TYPES[rank]
            extra = ' requires="kernel"' if kind == "conditional" else ""
            out.append(f'      <packagereq type="{kind}"{extra}>{name}</packagereq>')
        out += ["    </packagelist>", "  </group>"]
    for e in range(environments):
        env_id = "kde-desktop-environment" if e == 0 else f"env-{e:03d}-environment"
        members = ids[e % groups :: max(1, groups // 10)][:10]
        options = sorted(ids[(e + 1) % groups :: max(1, groups // 8)][:8])
        out += [
            "  <environment>",
            f"    <id>{env_id}</id>",
            f"    <_name>Environment {e}</_name>",
            f"    <_description>Generated environment {e}.</_description>",
            f"    <display_order>{e + 1}</display_order>",
            "    <grouplist>",
        ]
        out += [f"      <groupid>{g}</groupid>" for g in members]
        out += ["    </grouplist>", "    <optionlist>"]
        out += [f"      <groupid>{g}</groupid>" for g in options]
        out += ["    </optionlist>", "  </environment>"]
    for c in range(20):
        out += [
            "  <category>",
            f"    <id>category-{c:02d}</id>",
            f"    <_name>Category {c}</_name>",
            f"    <_description>Generated category {c}.</_description>",
            f"    <display_order>{c + 10}</display_order>",
            "    <grouplist>",
        ]
        out += [f"      <groupid>{g}</groupid>" for g in sorted(ids[c::20][:15])]
        out += ["    </grouplist>", "  </category>"]
    out += ["</comps>", ""]
    return "\n".join(out)
