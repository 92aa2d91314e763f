"""The native libraries' start-up chatter (absl I/W lines, TensorFlow Lite notices) leaves the
terminal for the job's log at debug level; errors, Python's messages and tracebacks still show."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_script(body: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(body))
    log = tmp_path / "job.log"
    result = subprocess.run([sys.executable, str(script), str(log)], capture_output=True, text=True, cwd=REPO,
                            timeout=120)
    return result, log.read_text()


def test_native_noise_goes_to_the_log_and_errors_to_stderr(tmp_path):
    result, log = run_script('''
        import logging, os, sys
        from avemotion.logs import log_to_file
        log_to_file(sys.argv[1], level=logging.DEBUG)
        os.write(2, b"W0000 00:00:1795790243.303568    4109 inference_feedback_manager.cc:114] Feedback off\\n")
        os.write(2, b"I0000 00:00:1795790243.303568    4109 gl_context.cc:357] GL version: 3.2\\n")
        os.write(2, b"E0000 00:00:1795790243.303568    4109 calculator.cc:1] a real error\\n")
        print("a warning of our own", file=sys.stderr)
        raise RuntimeError("the job failed")
    ''', tmp_path)
    assert result.returncode == 1
    assert "Feedback off" not in result.stderr and "GL version" not in result.stderr
    assert "a real error" in result.stderr and "a warning of our own" in result.stderr
    assert "RuntimeError: the job failed" in result.stderr
    assert "DEBUG native: W0000" in log and "Feedback off" in log and "GL version" in log


def test_mediapipe_start_up_lines_leave_the_terminal(tmp_path):
    result, log = run_script('''
        import sys
        from avemotion.logs import log_to_file
        log_to_file(sys.argv[1])
        import numpy as np
        from avemotion.faces import MediaPipeFaces
        analyzer = MediaPipeFaces()
        analyzer.detect(np.zeros((240, 320, 3), np.uint8))
        analyzer.close()
        print("done", file=sys.stderr)
    ''', tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "done", result.stderr
