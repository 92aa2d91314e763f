"""Logging for workflow scripts: everything goes to the rule's `log:` file."""
from __future__ import annotations

import logging
import os


def log_to_file(path: str | os.PathLike, level: int = logging.INFO) -> logging.Logger:
    """Send the root logger (and so every avemotion module's logger) to `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    return root
