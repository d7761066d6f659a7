"""The command line: click adapters over ``digest.app``. ``main`` is the `digest` command.

The only place that builds concrete objects for the CLI and turns errors into exit codes (see
``digest.cli._context`` for the exit statuses); each command parses its input, calls one use case
and prints the result.
"""

from digest.cli.commands import main

__all__ = ["main"]
