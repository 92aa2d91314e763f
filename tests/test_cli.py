"""The `avemotion` command's corpus and manifest subcommands, run as a user runs them, on a small demo
corpus: the corpus the workflow's rule would generate, and a manifest that lists every clip."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from avemotion.artifacts import read_tsv
from conftest import REPO

pytestmark = pytest.mark.slow


def avemotion(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "avemotion.cli", *args], capture_output=True, text=True,
                            cwd=cwd, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_demo_corpus_then_manifest(tmp_path: Path):
    # only the keys that differ from config.yaml, as a user writes a --configfile: merged over it
    config = {"demo": {"seed": 5, "clips_per_class": {"train": 1, "val": 1, "test": 1}, "duration_s": [1.0, 1.2]},
              "dataset": {"kind": "demo"}}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "corpus"
    printed = avemotion("demo-corpus", "--out", str(out), "--config", str(configfile), "--threads", "2",
                        cwd=tmp_path)
    clips = read_tsv(out / "clips.tsv")
    assert printed.stdout.strip().endswith("clips.tsv") and len(clips) == 3 * 7
    assert {(row["split"], row["label"]) for row in clips} == {
        (split, label) for split in ("train", "val", "test") for label in ("AN", "DI", "FE", "HA", "NE", "SA", "SU")}
    assert all((out / row["path"]).stat().st_size > 0 for row in clips)

    manifest, quarantine = tmp_path / "manifest.tsv", tmp_path / "quarantine.tsv"
    printed = avemotion("manifest", "--config", str(configfile), "--manifest", str(manifest), "--quarantine",
                        str(quarantine), "--demo-list", str(out / "clips.tsv"), cwd=tmp_path)
    assert printed.stdout.startswith(f"21 clips in {manifest}; 0 in {quarantine}")
    rows = read_tsv(manifest)
    assert sorted(row["clip_id"] for row in rows) == sorted(row["clip_id"] for row in clips)
    # the shortest planned duration (1.0 s above) to the nearest frame: at most half a 24-fps frame less
    assert all(row["has_audio"] == "true" and float(row["duration_s"]) >= 1.0 - 0.5 / 24 for row in rows)
    assert read_tsv(quarantine) == []


def test_the_commands_run_from_the_repository_config(tmp_path: Path):
    """Without --config the repository's config.yaml is read: the help lists both commands."""
    result = avemotion("--help", cwd=REPO)
    assert "demo-corpus" in result.stdout and "manifest" in result.stdout
