"""`python -m sdgflow` is the `sdgflow` console script."""

from sdgflow.cli import main

main()
