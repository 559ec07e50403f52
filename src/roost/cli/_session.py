"""What one invocation of ``roost`` knows, shared by the root callback and its commands.

The root callback builds the session once, from the environment and the global
options; commands ask ``session_of(ctx)`` for it and never read ``os.environ``.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from roost.config import Settings
from roost.store import Registry

__all__ = ["Session", "session_of"]


@dataclass(frozen=True, slots=True)
class Session:
    """The settings of one invocation, built once."""

    settings: Settings

    def registry(self) -> Registry:
        """The registry the settings name (opening it creates its folder and index)."""
        return Registry.from_config(self.settings.store)


def session_of(ctx: typer.Context) -> Session:
    """The session the root callback stored for this invocation."""
    session = ctx.find_object(Session)
    if session is None:  # only when a command is run without the root group around it
        raise RuntimeError("roost: command invoked outside the roost app")
    return session
