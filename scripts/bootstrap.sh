#!/usr/bin/env bash
# Install what fexpkg needs on Debian 12 or Fedora, then make .venv with the project in it.
# Idempotent: packages already present are not reinstalled, an existing venv is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

# The distribution's rpmlint is the fallback of `fexpkg spec lint` (Debian 12's is 2.4) and
# brings what any rpmlint uses (rpm bindings, enchant, magic, pybeam, zstandard; cpio, readelf);
# the venv's rpmlint 2.10, from the `test` extra below, comes first (specs.find_rpmlint).
DEBIAN_PKGS=(dnf python3-dnf python3-libcomps python3-rpm python3-lxml python3-venv rpm
             createrepo-c rpmlint libxml2-utils xsltproc erofs-utils busybox-static
             python3-license-expression util-linux mmdebstrap groff-base zsh fish asciidoctor
             rsync valgrind)
FEDORA_PKGS=(dnf python3-dnf python3-libcomps python3-rpm python3-lxml rpm-build createrepo_c
             rpmlint libxml2 libxslt erofs-utils busybox python3-license-expression
             systemd-rpm-macros python3-devel pyproject-rpm-macros util-linux groff-base zsh fish
             rubygem-asciidoctor rsync valgrind)

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -r /etc/debian_version ]; then
    missing=()
    for p in "${DEBIAN_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "bootstrap: installing ${missing[*]}"
        sudo_ apt-get update -qq
        sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
elif [ -r /etc/fedora-release ]; then
    missing=()
    for p in "${FEDORA_PKGS[@]}"; do rpm -q "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "bootstrap: installing ${missing[*]}"
        sudo_ dnf install -y -q "${missing[@]}"
    fi
else
    echo "bootstrap: neither Debian nor Fedora; install the packages listed in scripts/bootstrap.sh yourself" >&2
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import dnf, libcomps, rpm' 2>/dev/null; then
    rm -rf .venv
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.fexpkg-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,docs]'
    touch "$stamp"
fi
