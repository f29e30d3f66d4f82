"""The EWS simulator: a faithful Exchange stand-in for tests and testers (see controller.Controller)."""

from router.simulator.config import ServerConfig
from router.simulator.controller import Controller
from router.simulator.versions import EXCHANGE_SE, ServerBuild

__all__ = ["EXCHANGE_SE", "Controller", "ServerBuild", "ServerConfig"]
