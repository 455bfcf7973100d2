"""Run the command line as ``python -m indsats``."""

from indsats.cli import main

main()
