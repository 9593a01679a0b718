"""fexpkg: `dnf install @fex-x86-emulation` gives AArch64 Fedora working x86 emulation."""

__version__ = "0.1.0"
