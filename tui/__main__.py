"""`python -m tui`: the same command as `roleplay tui`."""

from tui.cli import main

main()
