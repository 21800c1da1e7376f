"""The tracking wing (not built yet)."""
