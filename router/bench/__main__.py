"""``python -m router.bench``: what `scripts/bench` runs."""

from router.bench.cli import main

main()
