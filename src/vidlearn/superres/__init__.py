"""The superres wing (not built yet)."""
