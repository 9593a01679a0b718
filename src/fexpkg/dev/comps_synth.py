"""Generate a Fedora-size comps `.xml.in` (for tests and the benchmark), sorted and laid out as
fedora-comps' files are (comps-cleanup.xsl leaves it as it is)."""

from __future__ import annotations

from xml.sax.saxutils import escape

_TYPES = ("mandatory", "conditional", "default", "optional")

DANGLING = ("clustering", "eclipse")
"""Groups that Fedora's own files name but do not define (comps-f41: `eclipse` in an environment
and a category, `clustering` in a category): what `fedora_quirks` adds too."""


def synthetic_comps(
    groups: int = 400,
    environments: int = 60,
    packagereqs: int = 20000,
    fedora_quirks: bool = False,
) -> str:
    """A complete comps source file laid out and sorted as fedora-comps' files are.

    Groups are `group-NNNN`; environment 0 is `kde-desktop-environment`, whose
    optionlist is sorted; every fifth group is preceded by a comment.

    With `fedora_quirks`, what Fedora's real files carry and DNF, comps.rng and
    comps-cleanup.xsl accept: every tenth group has an empty `<_description/>`; every
    seventh packagereq an `arch="aarch64,x86_64"` list; every eighth group a comment (holding a
    commented-out packagereq) before its second packagereq; environments after the first have
    their optionlist unsorted, its first option `default="true"`; environment 1 and category 0
    name groups that do not exist (DANGLING).
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
        description = f"    <_description>Generated group number {i}.</_description>"
        if fedora_quirks and i % 10 == 3:
            description = "    <_description/>"
        out += [
            "  <group>",
            f"    <id>{gid}</id>",
            f"    <_name>Group {i}</_name>",
            description,
            "    <default>false</default>",
            "    <uservisible>true</uservisible>",
            "    <packagelist>",
        ]
        reqs = sorted(((n % len(_TYPES)), f"pkg-{i:04d}-{n:03d}") for n in range(per_group))
        for n, (rank, name) in enumerate(reqs):
            kind = _TYPES[rank]
            extra = ' requires="kernel"' if kind == "conditional" else ""
            arch = ' arch="aarch64,x86_64"' if fedora_quirks and n % 7 == 2 else ""
            if fedora_quirks and i % 8 == 1 and n == 1:
                out += [
                    "      <!-- disabled for now, and a note for the next packagereq:",
                    f'      <packagereq type="default">{name}-old</packagereq>',
                    "      -->",
                ]
            out.append(f'      <packagereq{arch} type="{kind}"{extra}>{name}</packagereq>')
        out += ["    </packagelist>", "  </group>"]
    for e in range(environments):
        env_id = "kde-desktop-environment" if e == 0 else f"env-{e:03d}-environment"
        members = ids[e % groups :: max(1, groups // 10)][:10]
        options = sorted(ids[(e + 1) % groups :: max(1, groups // 8)][:8])
        if fedora_quirks and e == 1:
            members.append(DANGLING[1])
        default = ""
        if fedora_quirks and e > 0:
            options.reverse()
            default = ' default="true"'
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
        out += [
            f"      <groupid{default if n == 0 else ''}>{g}</groupid>"
            for n, g in enumerate(options)
        ]
        out += ["    </optionlist>", "  </environment>"]
    for c in range(20):
        members = ids[c::20][:15] + (list(DANGLING) if fedora_quirks and c == 0 else [])
        out += [
            "  <category>",
            f"    <id>category-{c:02d}</id>",
            f"    <_name>Category {c}</_name>",
            f"    <_description>Generated category {c}.</_description>",
            f"    <display_order>{c + 10}</display_order>",
            "    <grouplist>",
        ]
        out += [f"      <groupid>{g}</groupid>" for g in sorted(members)]
        out += ["    </grouplist>", "  </category>"]
    out += ["</comps>", ""]
    return "\n".join(out)
