"""Running the real `email-router` command line in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from router.cli.main import cli

Invoke = Callable[..., Result]


@pytest.fixture
def run() -> Invoke:
    """Invoke the CLI with arguments (and optional input); the home comes from EMAIL_ROUTER_HOME."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke
