"""evalkit.data: see docs/ARCHITECTURE.md."""
