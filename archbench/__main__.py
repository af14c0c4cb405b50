"""``python -m archbench``: the command line, for an environment whose scripts are not on PATH."""

from archbench.cli import main

main()
