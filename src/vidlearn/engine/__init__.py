"""Training machinery shared by every wing. Knows no task."""
