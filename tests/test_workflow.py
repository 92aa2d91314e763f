"""End-to-end checks of the backbone stages through real Snakemake runs."""
import stat

import pytest
import yaml

from avemotion.artifacts import current_umask, read_tsv
from avemotion.config import load_config
from conftest import run_snakemake
from media_factory import make_clip, truncate

pytestmark = pytest.mark.slow


def test_demo_run_puts_every_clip_in_manifest_or_quarantine(demo_run):
    listed = read_tsv(demo_run.results / "demo_corpus" / "clips.tsv")
    manifest = {row["clip_id"] for row in read_tsv(demo_run.results / "manifest.tsv")}
    quarantined = {row["clip_id"] for row in read_tsv(demo_run.results / "quarantine.tsv")}
    assert not manifest & quarantined
    assert manifest | quarantined == {row["clip_id"] for row in listed}
    per_class = demo_run.config["demo"]["clips_per_class"]
    assert len(listed) == 7 * sum(per_class.values())


def test_demo_run_outputs_are_readable_by_the_lab(demo_run):
    """Every file under results/ has the read bits the umask grants, and every table ends lines
    with \n only."""
    granted = 0o444 & ~current_umask()
    private = [path for path in demo_run.results.rglob("*")
               if path.is_file() and stat.S_IMODE(path.stat().st_mode) & granted != granted]
    assert private == [], private[:10]
    crlf = [path for path in demo_run.results.rglob("*.tsv") if b"\r\n" in path.read_bytes()]
    assert crlf == []


def test_demo_run_media_covers_every_clip(demo_run):
    manifest = read_tsv(demo_run.results / "manifest.tsv")
    index = {row["clip_id"]: row for row in read_tsv(demo_run.results / "media" / "index.tsv")}
    assert set(index) == {row["clip_id"] for row in manifest}
    for row in manifest:
        expected = round(int(row["n_frames"]) * 60 / float(row["fps"]))
        assert int(index[row["clip_id"]]["n_timeline_frames"]) == expected
        # the clip's planned duration of audio; the manifest's duration is the video's, that duration to
        # the nearest frame: half a frame apart at most (and a sample of rounding)
        audio_s = int(index[row["clip_id"]]["audio_samples"]) / 16000
        assert abs(audio_s - float(row["duration_s"])) <= 0.5 / float(row["fps"]) + 1 / 16000, row["clip_id"]


def test_bad_clips_are_quarantined_and_the_run_goes_on(tmp_path):
    clips = tmp_path / "data"
    make_clip(clips / "good_a.mp4", seconds=1.0, fps=25)
    make_clip(clips / "good_b.mp4", seconds=1.0, fps=30)
    (clips / "zero.mp4").write_bytes(b"")
    truncate(make_clip(clips / "truncated.mp4", seconds=3.0), 0.4)
    make_clip(clips / "silent_film.mp4", audio=False)
    make_clip(clips / "bored.mp4")
    (clips / "list.csv").write_text("path,label,split\n" + "\n".join([
        "good_a.mp4,HA,train", "good_b.mp4,SA,val", "zero.mp4,AN,train", "truncated.mp4,FE,train",
        "silent_film.mp4,NE,test", "bored.mp4,boredom,train"]) + "\n")
    config = load_config()
    config["dataset"].update(kind="list", path=str(clips / "list.csv"))
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    # Only the backbone's targets: two clips are too few to train the models on.
    run_snakemake(tmp_path, "--cores", "2", "results/media/index.tsv", configfile=configfile)
    reasons = {row["clip_id"]: row["reason"] for row in read_tsv(tmp_path / "results" / "quarantine.tsv")}
    assert reasons["zero"] == "zero-byte file"
    assert reasons["truncated"].startswith("truncated") or reasons["truncated"].startswith("cannot open")
    assert reasons["silent_film"] == "no audio stream"
    assert reasons["bored"] == "unknown label 'boredom'"
    assert len(set(reasons.values())) == 4
    media = {row["clip_id"] for row in read_tsv(tmp_path / "results" / "media" / "index.tsv")}
    assert media == {"good_a", "good_b"}
    assert (tmp_path / "results" / "logs" / "manifest" / "manifest.log").read_text().count(" quarantined at ") == 4
