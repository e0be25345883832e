"""Sub-commands of the ``hwnas`` CLI, one module each (see hwnas.cli.main)."""
