"""Sub-commands beyond the core ones in cli.py, one module per domain.

Each module has `register(commands)`, which adds its sub-parsers to the `commands`
sub-parser action and sets `handler=` (a callable `(args, settings) -> int`) as a default
on each, so cli.py dispatches without knowing them.
"""

MODULES = ("opsconsole.commands.events", "opsconsole.commands.itsm")
