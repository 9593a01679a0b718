"""fexpkg: make `dnf install @fex-x86-emulation` give an AArch64 Fedora system working x86 emulation."""

__version__ = "0.1.0"
