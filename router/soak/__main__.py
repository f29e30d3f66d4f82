"""``python -m router.soak``: what `scripts/soak` runs."""

from router.soak.cli import main

main()
