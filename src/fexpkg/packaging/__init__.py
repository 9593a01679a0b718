"""Packaging: spec lint, Kiwi descriptions, the KDE spin's check."""
