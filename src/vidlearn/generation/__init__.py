"""The generation wing (not built yet)."""
