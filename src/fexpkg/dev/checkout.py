"""Paths of the project's checkout: the defaults of commands run from it (development only)."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3]
SRC = CHECKOUT / "src"
SPECS = CHECKOUT / "specs"
PLUGIN_DIR = CHECKOUT / "dnf-plugins"
FIXTURES = CHECKOUT / "tests" / "fixtures"
PROJECT_COMPS = CHECKOUT / "comps" / "comps-fex.xml.in"
FIXTURE_COMPS = FIXTURES / "comps" / "comps-f42.xml.in"
SPIN_DIR = CHECKOUT / "comps" / "spin"
KIWI_DIR = SPECS / "sources"
BUILD = CHECKOUT / "build"
