"""A user's clone is the whole project: no tracked file points at files outside the repository."""
from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_no_tracked_file_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert tracked, "git ls-files listed nothing"
    outside = []
    for name in tracked:
        path = REPO / name
        if path.suffix in {".png", ".h5", ".zip"} or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if "../shared" in line and name != "tests/test_repository.py":
                outside.append(f"{name}:{number}: {line.strip()}")
    assert outside == [], "\n".join(outside)
