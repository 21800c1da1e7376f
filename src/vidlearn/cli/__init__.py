"""The ``vidlearn`` command: thin, one module per command group."""
