"""Comps: the fex-x86-emulation group, merging it into Fedora's comps files, validation."""
