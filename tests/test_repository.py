"""A user's clone is the whole project: no tracked file points at files outside the repository, and
every tracked text file speaks of what the code does, not of the project's own history."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BINARY_SUFFIXES = {".png", ".h5", ".zip"}

# Words that date a text by the project's history (its milestones and tickets) instead of saying
# what the code does and why. Built from pieces, so that this file does not match itself.
_MILESTONE, _TICKET = "st" + "op", "iss" + "ue"
HISTORY_WORDS = re.compile("|".join([
    rf"\b(?:{_MILESTONE}|{_TICKET})s? #?\d+",  # a numbered milestone or ticket
    rf"\b(?:this|last|previous|next|earlier) {_MILESTONE}\b",
    rf"\bthe {_TICKET}\b",  # "the ticket's target", "as in the ticket"
    r"\bthis " + "sess" + r"ion\b",
]), re.IGNORECASE)


def tracked_text_files() -> list[tuple[str, Path]]:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert tracked, "git ls-files listed nothing"
    return [(name, REPO / name) for name in tracked
            if (REPO / name).suffix not in BINARY_SUFFIXES and (REPO / name).is_file()]


def test_no_tracked_file_points_outside_the_repository():
    outside = []
    for name, path in tracked_text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if "../shared" in line and name != "tests/test_repository.py":
                outside.append(f"{name}:{number}: {line.strip()}")
    assert outside == [], "\n".join(outside)


def test_no_tracked_file_speaks_of_the_projects_history():
    """Code, comments, docstrings, tests, docs and configs say what the code does and why, not when
    it changed: no numbered milestones or tickets, no "the current milestone" or "the current work session"."""
    found = [f"{name}:{number}: {match.group(0)!r} in {line.strip()}"
             for name, path in tracked_text_files()
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             for match in [HISTORY_WORDS.search(line)] if match]
    assert found == [], "project-history words (say what the code does instead):\n" + "\n".join(found)
