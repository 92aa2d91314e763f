"""Logging for workflow scripts: everything goes to the rule's `log:` file; the start-up chatter that
C++ libraries (MediaPipe, TensorFlow Lite, absl) write straight to the process's stderr goes to that
log at debug level instead of the terminal, while their errors and Python's own messages still show."""
from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

# absl/glog info and warning lines ("I0000 00:00:1795790243.303568    4109 file.cc:114] ...") and the
# two notices TensorFlow Lite prints once per process; E and F lines are errors and pass through.
NATIVE_NOISE = re.compile(
    r"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] |INFO: Created TensorFlow Lite"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called)")

_native_filter: dict[str, object] = {}


def log_to_file(path: str | os.PathLike, level: int = logging.INFO) -> logging.Logger:
    """Send the root logger (and so every avemotion module's logger) to `path`, and the native
    libraries' noise with it (:func:`filter_native_stderr`)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    filter_native_stderr()
    return root


def filter_native_stderr() -> None:
    """From now until the process exits, route file descriptor 2 through a pipe: lines matching
    NATIVE_NOISE go to the ``native`` logger at debug level, every other line (tracebacks, errors,
    warnings of our own) to the real stderr. Idempotent; undone at exit, after the last traceback."""
    if _native_filter:
        return
    sys.stderr.flush()
    real_stderr = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    native_log = logging.getLogger("native")

    def pump() -> None:
        with os.fdopen(read_end, "rb") as lines:
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                if NATIVE_NOISE.match(line):
                    native_log.debug(line.rstrip())
                else:
                    os.write(real_stderr, raw)

    thread = threading.Thread(target=pump, name="native-stderr", daemon=True)
    thread.start()
    _native_filter.update(real_stderr=real_stderr, thread=thread)
    atexit.register(restore_native_stderr)


def real_stderr_fd() -> int:
    """The process's real stderr: fd 2, or the copy of it kept while :func:`filter_native_stderr`
    routes fd 2 through its pipe (so that training's progress bar can tell a terminal)."""
    return _native_filter.get("real_stderr", 2)


def restore_native_stderr() -> None:
    """Give file descriptor 2 back to the real stderr, after passing on what is still in the pipe."""
    if not _native_filter:
        return
    sys.stderr.flush()
    real_stderr = _native_filter["real_stderr"]
    os.dup2(real_stderr, 2)  # closes the pipe's only write end: the pump reads to its end and stops
    _native_filter["thread"].join(timeout=5)
    os.close(real_stderr)
    _native_filter.clear()
