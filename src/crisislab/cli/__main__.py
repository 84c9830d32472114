"""`python -m crisislab.cli`: the same as the `crisislab` command."""

from crisislab.cli import main

main()
