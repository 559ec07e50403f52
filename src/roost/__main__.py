"""``python -m roost``: the ``roost`` command."""

from __future__ import annotations

from roost.cli import main

if __name__ == "__main__":
    main()
