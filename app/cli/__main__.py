"""`python -m app.cli`: the `weft` command without its console script."""

from app.cli import main

main()
