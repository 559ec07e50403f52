"""The version of roost, read by the build backend and by ``roost --version``."""

__version__ = "0.1.0"
