"""Audio stage (paper 2.2-2.4): real openSMILE and pyAudioAnalysis on real synthetic speech (espeak-ng)."""
from __future__ import annotations

import dataclasses
import math
import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from scipy.io import wavfile
from scipy.signal import resample_poly

from avemotion import audio
from avemotion.artifacts import read_tsv, write_tsv
from avemotion.audio import (
    AudioChecks,
    ClipAudio,
    MapSettings,
    ShortTermSettings,
    audio_maps_from_sequence,
    extend_audio_map,
    pad_sequence_to_min_length,
    tile_audio_map,
    tileable_map_width,
)
from avemotion.config import load_config
from avemotion.constants import AUDIO_SAMPLE_RATE, IS10_DIM, N_SHORT_TERM_FEATURES
from avemotion.layout import AUDIO_FEATURES, IS10
from avemotion.shards import clips_by_shard

ESPEAK = "/usr/bin/espeak-ng"
FS = AUDIO_SAMPLE_RATE
# config.yaml's checks (silence, clipping and length limits are not paper values: config.yaml holds them)
CHECKS = AudioChecks.from_config(load_config()["audio"]["checks"])
SENTENCE = ("I cannot believe you did that again. Honestly, I am so angry right now, "
            "and I do not know what to say to you anymore.")
PAPER_LENGTHS_MS = (90, 500, 1000, 1234, 1550, 4000)  # 1234: not a multiple of 50, floored


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Real speech: espeak-ng at 22.05 kHz resampled to 16 kHz mono PCM16 (> 4 s)."""
    assert Path(ESPEAK).exists(), f"{ESPEAK} is missing: setup.sh installs espeak-ng (apt)"
    wav = tmp_path_factory.mktemp("espeak") / "speech22k.wav"
    subprocess.run([ESPEAK, "-w", str(wav), "-s", "150", SENTENCE], capture_output=True, check=True)
    rate, samples = wavfile.read(wav)
    assert rate == 22050
    resampled = resample_poly(samples.astype(np.float64), 320, 441)
    speech = np.clip(np.round(resampled), -32768, 32767).astype(np.int16)
    assert len(speech) >= max(PAPER_LENGTHS_MS) * FS // 1000  # the longest cut the tests take
    return speech


def write_wav(directory: Path, name: str, samples: np.ndarray, rate: int = FS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.wav"
    wavfile.write(path, rate, samples)
    return path


def read_h5(path: Path) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    with h5py.File(path, "r") as handle:
        return {key: handle[key][()] for key in handle}, dict(handle.attrs)


def run_stage(directory: Path, clip: str, samples: np.ndarray, checks: AudioChecks | None = None,
              rate: int = FS) -> dict[str, tuple[dict, dict]]:
    """Run the three per-clip steps like the rules do; return {feature: (datasets, attrs)}."""
    checks = checks or CHECKS
    wav = write_wav(directory, clip, samples, rate)
    paths = {feature: directory / feature / f"{clip}.h5" for feature in audio.FEATURES}
    audio.write_is10_artifact(wav, paths["is10"], clip, checks)
    audio.write_shortterm_artifact(wav, paths["shortterm"], clip, checks, ShortTermSettings())
    audio.write_maps_artifact(paths["shortterm"], paths["maps"], clip, MapSettings())
    return {feature: read_h5(path) for feature, path in paths.items()}


def paper_map_count(n: int) -> int:
    """Paper 2.4 literally: n' = closest multiple of 17 >= max(n, 34); (n' - 17)/17 maps, at least 8."""
    n_prime = 17 * math.ceil(max(n, 34) / 17)
    return (n_prime - 17) // 17


# ---------------------------------------------------------------- paper 2.3 frame count and shapes
@pytest.mark.parametrize("length_ms", PAPER_LENGTHS_MS)
def test_frame_count_and_shapes_follow_the_paper(tmp_path, speech, length_ms):
    samples = speech[: length_ms * FS // 1000]
    sequence, _ = audio.extract_short_term_features(ClipAudio("c", samples, FS), ShortTermSettings())
    frames = sequence.shape[0]
    # the library floors the paper's n = (m - 50)/50, and gives nothing below one 100-ms window
    assert frames == max(0, math.floor(audio.paper_short_term_frame_count(length_ms)))
    assert frames == audio.short_term_frame_count(len(samples), 1600, 800)
    if length_ms % 50 == 0:
        assert frames == audio.paper_short_term_frame_count(length_ms)

    result = run_stage(tmp_path, f"clip{length_ms}", samples)
    (is10, is10_attrs), (short, short_attrs), (maps, maps_attrs) = (result[f] for f in audio.FEATURES)
    if frames == 0:  # 90 ms: shorter than one window -> quarantined for every audio model
        for _, attrs in result.values():
            assert attrs["status"] == "quarantined"
            assert f"clip{length_ms}" in attrs["reason"] and "too short" in attrs["reason"]
        assert short["features"].shape == (0, 34) and maps["maps"].shape == (0, 34, 34)
        assert is10["features"].shape == (0,)
        return
    assert short_attrs["status"] == "ok" and short_attrs["n_frames_raw"] == frames
    assert short["features"].shape == (max(16, frames), N_SHORT_TERM_FEATURES)
    assert short["features"].dtype == np.float32
    assert maps_attrs["status"] == "ok" and maps_attrs["n_maps_raw"] == paper_map_count(frames)
    assert maps["maps"].shape == (max(8, paper_map_count(frames)), 34, 34)
    assert is10["features"].shape == (IS10_DIM,)


def test_short_clip_without_a_window_is_quarantined_even_without_duration_check(tmp_path, speech):
    checks = dataclasses.replace(CHECKS, min_duration_s=0.0)
    wav = write_wav(tmp_path, "c90", speech[:1440])
    audio.write_shortterm_artifact(wav, tmp_path / "s.h5", "c90", checks, ShortTermSettings())
    data, attrs = read_h5(tmp_path / "s.h5")
    assert attrs["status"] == "quarantined" and "c90" in attrs["reason"] and "window" in attrs["reason"]
    assert data["features"].shape == (0, 34)


# ---------------------------------------------------------------- identical to the libraries
def test_short_term_features_identical_to_direct_pyaudioanalysis_call(tmp_path, speech):
    from pyAudioAnalysis import ShortTermFeatures

    wav = write_wav(tmp_path, "speech", speech[: 3 * FS])
    fs, x = wavfile.read(wav)
    direct, direct_names = ShortTermFeatures.feature_extraction(x, fs, int(0.1 * fs), int(0.05 * fs), deltas=False)
    assert direct.shape[0] == 34

    ours, names = audio.extract_short_term_features(audio.read_clip_audio(wav, "speech"), ShortTermSettings())
    assert np.array_equal(ours, direct.T) and names == list(direct_names)

    audio.write_shortterm_artifact(wav, tmp_path / "s.h5", "speech", CHECKS, ShortTermSettings())
    data, attrs = read_h5(tmp_path / "s.h5")
    assert attrs["status"] == "ok"
    assert np.array_equal(data["features"], direct.T.astype(np.float32))
    assert [name.decode() for name in data["names"]] == list(direct_names)
    assert (attrs["window_s"], attrs["step_s"]) == (0.1, 0.05)


def test_is10_gives_exactly_1582_finite_functionals(tmp_path, speech):
    import opensmile

    wav = write_wav(tmp_path, "speech", speech[: 2 * FS])
    audio.write_is10_artifact(wav, tmp_path / "i.h5", "speech", CHECKS)
    data, attrs = read_h5(tmp_path / "i.h5")
    assert attrs["status"] == "ok" and attrs["reason"] == ""
    assert data["features"].shape == (1582,) and data["features"].dtype == np.float32
    assert np.all(np.isfinite(data["features"]))
    assert len(set(data["names"])) == 1582
    assert "opensmile" in attrs["versions"]

    smile = opensmile.Smile(opensmile.FeatureSet.IS10, opensmile.FeatureLevel.Functionals)
    signal = speech[: 2 * FS].astype(np.float32) / 32768
    direct = smile.process_signal(signal - signal.mean(dtype=np.float64).astype(np.float32), FS)
    assert np.array_equal(data["features"], direct.to_numpy(dtype=np.float32).ravel())
    assert [n.decode() for n in data["names"]] == list(smile.feature_names)


# ---------------------------------------------------------------- paper 2.3 / 2.4 edge cases
def sequence_of(n: int) -> np.ndarray:
    """[n, 34] with every value naming its frame and feature, so any misplaced column shows."""
    return np.arange(n)[:, None] * 100.0 + np.arange(34)[None, :]


@pytest.mark.parametrize("n", [1, 15, 16, 40])
def test_pad_sequence_to_min_length_copies_the_last_vector(n):
    padded = pad_sequence_to_min_length(sequence_of(n), 16)
    assert padded.shape == (max(n, 16), 34)
    assert np.array_equal(padded[:n], sequence_of(n))
    assert np.all(padded[n:] == sequence_of(n)[-1])


def test_pad_sequence_refuses_an_empty_sequence():
    with pytest.raises(ValueError):
        pad_sequence_to_min_length(np.zeros((0, 34)), 16)


def test_tileable_width_is_the_papers_n_prime():
    for n in range(1, 400):
        assert tileable_map_width(n) == 17 * math.ceil(max(n, 34) / 17), n


@pytest.mark.parametrize("n, n_prime, n_maps_raw", [
    (1, 34, 1), (16, 34, 1), (33, 34, 1),      # n < 34
    (34, 34, 1), (51, 51, 2), (136, 136, 7),   # n a multiple of 17: nothing replicated
    (35, 51, 2), (120, 136, 7),                # replicated up to the next multiple of 17
    (153, 153, 8), (170, 170, 9), (300, 306, 17),  # at least 8 maps: nothing copied
])
def test_tile_audio_map_edge_cases(n, n_prime, n_maps_raw):
    sequence = sequence_of(n)
    extended = extend_audio_map(sequence.T)
    assert extended.shape == (34, n_prime)
    assert np.array_equal(extended[:, :n], sequence.T)
    assert np.all(extended[:, n:] == sequence.T[:, -1:])  # last column replicated n' - n times

    tiles = tile_audio_map(extended)
    assert tiles.shape == (n_maps_raw, 34, 34) == ((n_prime - 17) // 17, 34, 34)
    for j, tile in enumerate(tiles):
        assert np.array_equal(tile, extended[:, 17 * j: 17 * j + 34])

    maps, raw = audio_maps_from_sequence(sequence)
    assert raw == n_maps_raw
    assert maps.shape == (max(8, n_maps_raw), 34, 34)
    assert np.array_equal(maps[:n_maps_raw], tiles)
    assert np.all(maps[n_maps_raw:] == tiles[-1])  # the last map copied 8 - k times


def test_tile_audio_map_refuses_an_unextended_map():
    with pytest.raises(ValueError):
        tile_audio_map(sequence_of(40).T)


def test_pad_maps_keeps_eight_or_more():
    maps = np.random.default_rng(0).normal(size=(9, 34, 34))
    assert pad_sequence_to_min_length(maps, 8) is maps


def test_maps_from_padded_and_unpadded_sequence_are_the_same():
    """Section 2.4 reads "the sequence of feature vectors from Section 2.3"; we use the padded one.
    With the paper's values both give the same maps (padding and column replication both repeat the
    last vector, and 16 < 34)."""
    for n in range(1, 80):
        unpadded, raw_unpadded = audio_maps_from_sequence(sequence_of(n))
        padded, raw_padded = audio_maps_from_sequence(pad_sequence_to_min_length(sequence_of(n), 16))
        assert raw_unpadded == raw_padded and np.array_equal(unpadded, padded), n


# ---------------------------------------------------------------- bad audio
def assert_quarantined(result: dict, clip: str, word: str) -> None:
    for feature, (data, attrs) in result.items():
        assert attrs["status"] == "quarantined", feature
        assert clip in attrs["reason"] and word in attrs["reason"], attrs["reason"]
        assert next(iter(v for k, v in data.items() if k != "names")).shape[0] == 0


def assert_ok_and_finite(result: dict) -> None:
    for feature, (data, attrs) in result.items():
        assert attrs["status"] == "ok", (feature, attrs["reason"])
        values = data["maps"] if feature == "maps" else data["features"]
        assert values.size and np.all(np.isfinite(values)), feature


def test_digital_silence_is_quarantined(tmp_path):
    assert_quarantined(run_stage(tmp_path, "quiet1", np.zeros(FS, np.int16)), "quiet1", "silent")


def test_dither_level_noise_is_quarantined_as_silent(tmp_path):
    noise = np.random.default_rng(1).integers(-2, 3, FS).astype(np.int16)
    assert_quarantined(run_stage(tmp_path, "quiet2", noise), "quiet2", "silent")


def test_quiet_but_audible_speech_is_kept(tmp_path, speech):
    quiet = (speech[:FS].astype(np.float64) * 0.01).astype(np.int16)  # about -45 dBFS
    assert_ok_and_finite(run_stage(tmp_path, "quiet3", quiet))


def test_heavy_clipping_is_quarantined(tmp_path, speech):
    clipped = np.clip(speech[:FS].astype(np.int64) * 40, -32768, 32767).astype(np.int16)
    assert_quarantined(run_stage(tmp_path, "loud1", clipped), "loud1", "clipped")


def test_light_clipping_is_kept_and_recorded(tmp_path, speech):
    peak = np.abs(speech[:FS].astype(np.int64)).max()
    clipped = np.clip(speech[:FS].astype(np.int64) * 32767 * 1.3 / peak, -32768, 32767).astype(np.int16)
    result = run_stage(tmp_path, "loud2", clipped)
    assert_ok_and_finite(result)
    assert 0 < result["is10"][1]["quality_clipped_fraction"] <= CHECKS.max_clipped_fraction  # kept: not above it


def test_dc_offset_changes_no_feature(tmp_path, speech):
    clean = speech[: 2 * FS]
    offset = (clean.astype(np.int64) + 4000).astype(np.int16)  # no sample reaches full scale
    assert np.abs(clean.astype(np.int64) + 4000).max() < 32767
    without = run_stage(tmp_path / "a", "dc0", clean)
    shifted = run_stage(tmp_path / "b", "dc1", offset)
    assert_ok_and_finite(shifted)
    assert shifted["is10"][1]["quality_dc_offset"] == pytest.approx(without["is10"][1]["quality_dc_offset"] + 4000 / 32768)
    # float32 features: what may differ is the float32 rounding (eps 1.2e-7) of removing the offset
    np.testing.assert_allclose(shifted["shortterm"][0]["features"], without["shortterm"][0]["features"], rtol=1e-5, atol=1e-6)
    is10_clean, is10_shifted = without["is10"][0]["features"], shifted["is10"][0]["features"]
    relative = np.abs(is10_shifted - is10_clean) / (np.abs(is10_clean) + 1e-3)
    # a hundredth of what the offset does to openSMILE's raw features (median ~0.1): removed, not shrunk
    assert np.median(relative) < 1e-3


def test_very_short_clip_is_quarantined(tmp_path, speech):
    assert_quarantined(run_stage(tmp_path, "short1", speech[:800]), "short1", "too short")


def test_clip_without_audio_is_quarantined(tmp_path):
    assert_quarantined(run_stage(tmp_path, "mute1", np.zeros(0, np.int16)), "mute1", "no audio")


def test_nan_samples_are_quarantined(tmp_path, speech):
    samples = speech[:FS].astype(np.float32) / 32768
    samples[100] = np.nan
    assert_quarantined(run_stage(tmp_path, "nan1", samples), "nan1", "NaN")


def test_nan_from_opensmile_is_quarantined(tmp_path, speech):
    """openSMILE fills a segment too short for IS10 with NaN; without the duration check it reaches
    the finiteness guard."""
    wav = write_wav(tmp_path, "tiny1", speech[:160])
    audio.write_is10_artifact(wav, tmp_path / "i.h5", "tiny1", dataclasses.replace(CHECKS, min_duration_s=0.0))
    data, attrs = read_h5(tmp_path / "i.h5")
    assert attrs["status"] == "quarantined" and data["features"].shape == (0,)
    assert re.search(r"clip tiny1: openSMILE IS10 returned \d+ non-finite values", attrs["reason"])


def test_nan_from_pyaudioanalysis_is_caught(speech):
    samples = speech[:FS].astype(np.float64)
    samples[5000] = np.inf
    features, names = audio.extract_short_term_features(ClipAudio("inf1", samples, FS), ShortTermSettings())
    assert not np.all(np.isfinite(features))  # the library really returns NaN here
    reason = audio.nonfinite_reason("inf1", "pyAudioAnalysis", features, names)
    assert reason is not None and reason.startswith("clip inf1: pyAudioAnalysis returned")


# ---------------------------------------------------------------- index
def test_index_lists_every_clip_with_its_status(tmp_path, speech):
    clips = {"good1": speech[: 2 * FS], "quiet1": np.zeros(FS, np.int16), "mute1": np.zeros(0, np.int16)}
    paths: dict[str, dict[str, str]] = {feature: {} for feature in audio.FEATURES}
    for clip, samples in clips.items():
        run_stage(tmp_path, clip, samples)
        for feature in audio.FEATURES:
            paths[feature][clip] = str(tmp_path / feature / f"{clip}.h5")
    manifest = tmp_path / "manifest.tsv"
    write_tsv(manifest, ("clip_id", "split", "label"),
              [{"clip_id": c, "split": "train", "label": "AN"} for c in clips])
    audio.write_audio_index(manifest, paths, tmp_path / "index.tsv")
    rows = {row["clip_id"]: row for row in read_tsv(tmp_path / "index.tsv")}
    assert list(rows) == list(clips)
    assert rows["good1"]["status"] == "ok" and rows["good1"]["n_shortterm"] == "39"
    assert rows["good1"]["n_maps"] == "8" and rows["good1"]["duration_s"] == "2.0"
    assert rows["quiet1"]["status"] == "quarantined" and "silent" in rows["quiet1"]["reason"]
    assert rows["mute1"]["status"] == "quarantined" and rows["mute1"]["n_maps"] == "0"
    assert rows["mute1"]["reason"].count("no audio") == 1


def test_index_refuses_a_missing_artifact(tmp_path, speech):
    run_stage(tmp_path, "good1", speech[:FS])
    manifest = tmp_path / "manifest.tsv"
    write_tsv(manifest, ("clip_id", "split", "label"), [{"clip_id": "good1", "split": "val", "label": "HA"}])
    paths = {"is10": {"good1": str(tmp_path / "is10/good1.h5")}, "shortterm": {}, "maps": {}}
    with pytest.raises(ValueError, match="good1"):
        audio.write_audio_index(manifest, paths, tmp_path / "index.tsv")


def test_config_block_matches_the_paper_constants():
    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())["audio"]
    assert ShortTermSettings.from_config(config["shortterm"]) == ShortTermSettings()
    assert MapSettings.from_config(config["maps"]) == MapSettings()


# ---------------------------------------------------------------- end to end
@pytest.mark.slow
def test_demo_run_writes_all_audio_artifacts(demo_run):
    manifest = read_tsv(demo_run.results / "manifest.tsv")
    index = {row["clip_id"]: row for row in read_tsv(demo_run.results / "audio" / "index.tsv")}
    assert set(index) == {row["clip_id"] for row in manifest}
    with_audio = [row["clip_id"] for row in manifest if row["has_audio"] == "true"]
    assert with_audio
    shards = demo_run.config["shards"]
    for clip in with_audio:
        for feature in audio.FEATURES:
            result = audio.read_audio_features(AUDIO_FEATURES[feature].path(clip, shards, demo_run.workdir))
            assert result.ok, result.reason
            assert np.all(np.isfinite(result.data))
        is10 = IS10.path(clip, shards, demo_run.workdir)
        assert audio.read_audio_features(is10).data.shape == (1582,)
        assert index[clip]["status"] == "ok"


@pytest.mark.slow
def test_editing_an_audio_setting_reruns_only_audio_jobs(demo_run, tmp_path):
    """A map setting reruns the audio shard jobs and the index, not the media or face jobs."""
    config = yaml.safe_load(demo_run.configfile.read_text())
    config["audio"]["maps"]["min_maps"] += 1
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(config, sort_keys=False))
    from conftest import run_snakemake

    output = run_snakemake(demo_run.workdir, "-n", "results/audio/index.tsv", configfile=edited).stdout
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", output, flags=re.MULTILINE))
    assert "audio_features" in jobs and "audio_index" in jobs
    clip_ids = [row["clip_id"] for row in read_tsv(demo_run.results / "manifest.tsv")]
    assert int(jobs["audio_features"]) == len(clips_by_shard(clip_ids, demo_run.config["shards"]))
    assert not {"media", "manifest", "demo_corpus", "faces", "faces_index"} & set(jobs)


def test_maps_guard_non_finite_sequence(tmp_path, speech):
    """A short-term file marked ok but holding inf (e.g. written by an older version) gives no maps."""
    wav = write_wav(tmp_path, "odd1", speech[:FS])
    audio.write_shortterm_artifact(wav, tmp_path / "s.h5", "odd1", CHECKS, ShortTermSettings())
    with h5py.File(tmp_path / "s.h5", "r+") as handle:
        handle["features"][3, 5] = np.inf
    audio.write_maps_artifact(tmp_path / "s.h5", tmp_path / "m.h5", "odd1", MapSettings())
    data, attrs = read_h5(tmp_path / "m.h5")
    assert attrs["status"] == "quarantined" and data["maps"].shape == (0, 34, 34)
    assert attrs["reason"].startswith("clip odd1: audio maps returned") and "spectral_entropy" in attrs["reason"]
