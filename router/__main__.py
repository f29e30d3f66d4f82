"""Allow `python -m router` as an alias of the `email-router` console script."""

from router.cli.main import main

if __name__ == "__main__":
    main()
