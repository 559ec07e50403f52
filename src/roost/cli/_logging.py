"""Logging for the ``roost`` command: roost's records, one line each, on stderr.

The library only creates loggers (``logging.getLogger(__name__)``); this is the one
place that attaches a handler, and only to the ``roost`` logger.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]

_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.Handler):
    """Write to whatever ``sys.stderr`` is when a record arrives.

    A plain ``StreamHandler`` keeps the stream it was built with; under a test runner
    that stream is closed after the command, and a later record would fail on it.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a handler never raises (logging's contract); handleError reports
            self.handleError(record)


def configure_logging(level: int) -> None:
    """Send ``roost.*`` records at ``level`` and above to stderr, replacing an earlier setup."""
    logger = logging.getLogger("roost")
    for handler in list(logger.handlers):
        if isinstance(handler, _StderrHandler):
            logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
