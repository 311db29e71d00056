"""evalkit.core: see docs/ARCHITECTURE.md."""
