"""evalkit.stats: see docs/ARCHITECTURE.md."""
