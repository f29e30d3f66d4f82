"""``python -m router.demo``: what `scripts/demo` runs."""

from router.demo.cli import main

main()
