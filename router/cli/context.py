"""The object every command receives: where the home directory is."""

from __future__ import annotations

from dataclasses import dataclass

import click

from router.home import Home


@dataclass(frozen=True)
class AppContext:
    """Shared command state, built once by the root group from ``--home``."""

    home: Home


pass_app = click.make_pass_decorator(AppContext)
