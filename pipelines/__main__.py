"""`python -m pipelines` is the `sluis` command."""

from pipelines.cli import main

main()
