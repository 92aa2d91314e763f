import json
import wave

import numpy as np
import pytest

from avemotion.constants import AUDIO_SAMPLE_RATE, TIMELINE_FPS
from avemotion.audio import read_clip_audio, samples_as_float
from avemotion.media import ClipProbeError, extract_audio, probe_clip, timeline_map, write_timeline
from media_factory import make_clip, truncate


def test_timeline_25fps_two_seconds_gives_120_frames_over_50_source_frames():
    timeline = timeline_map(50, 25.0)
    assert len(timeline) == 120
    assert len(np.unique(timeline)) == 50
    assert timeline[0] == 0 and timeline[-1] == 49
    # Paper 2.1: each 60-fps frame shows the source frame on screen at t = k/60.
    assert [int(timeline[k]) for k in (0, 2, 3, 5, 12)] == [0, 0, 1, 2, 5]
    assert np.all(np.diff(timeline) >= 0)


@pytest.mark.parametrize("fps,n", [(24, 48), (30, 61), (60, 100), (120, 240), (29.97, 90)])
def test_timeline_covers_every_rate(fps, n):
    timeline = timeline_map(n, fps)
    assert len(timeline) == round(n * TIMELINE_FPS / fps)
    assert timeline.min() == 0 and timeline.max() <= n - 1
    if fps <= TIMELINE_FPS:
        assert len(np.unique(timeline)) == n  # slower sources: every frame appears
    else:
        assert len(np.unique(timeline)) == len(timeline)  # faster sources: frames are skipped, not repeated


def test_probe_good_clip(tmp_path):
    clip = make_clip(tmp_path / "good.mp4", seconds=2.0, fps=25)
    info = probe_clip(clip)
    assert info.n_frames == 50 and info.fps == 25.0
    assert (info.width, info.height) == (96, 72)
    # the MP4's edit list trims AAC's priming and padding: the tone's 2.0 s, to the sample
    assert info.has_audio and info.audio_duration_s == pytest.approx(2.0, abs=1 / 44100)
    assert info.duration_s == pytest.approx(2.0)


@pytest.mark.parametrize("case,reason", [
    ("zero", "zero-byte file"),
    ("truncated", "truncated"),
    ("noaudio", "no audio stream"),
    ("shortaudio", "shorter than one 100 ms analysis window"),
    ("notmedia", "cannot open as a media file"),
    ("missing", "file not found"),
])
def test_probe_rejects_bad_clips_with_specific_reason(tmp_path, case, reason):
    path = tmp_path / f"{case}.mp4"
    if case == "zero":
        path.write_bytes(b"")
    elif case == "truncated":
        truncate(make_clip(path, seconds=3.0), 0.4)
    elif case == "noaudio":
        make_clip(path, audio=False)
    elif case == "shortaudio":
        make_clip(path, seconds=1.0, audio_seconds=0.05)
    elif case == "notmedia":
        path.write_text("this is not a video\n" * 100)
    with pytest.raises(ClipProbeError, match=reason):
        probe_clip(path)


def test_clip_without_audio_is_kept_when_audio_not_required(tmp_path):
    info = probe_clip(make_clip(tmp_path / "silent.mp4", audio=False), require_audio=False)
    assert not info.has_audio


def test_extract_audio_is_16k_mono_of_the_clip_length(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", seconds=1.5)
    wav_path = tmp_path / "c.wav"
    n = extract_audio(clip, wav_path)
    with wave.open(str(wav_path)) as handle:
        assert handle.getnchannels() == 1 and handle.getframerate() == AUDIO_SAMPLE_RATE
        assert handle.getsampwidth() == 2
    assert n == pytest.approx(1.5 * AUDIO_SAMPLE_RATE, abs=1)  # the clip's 1.5 s, to the sample
    audio = read_clip_audio(wav_path, "tone")
    samples, rate = samples_as_float(audio.samples), audio.sample_rate
    spectrum = np.abs(np.fft.rfft(samples))
    # make_clip's 330-Hz tone, to one bin of the spectrum of 1.5 s
    assert np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()] == pytest.approx(330, abs=1 / 1.5)


def test_extract_audio_of_clip_without_audio_is_an_empty_wav(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", audio=False)
    assert extract_audio(clip, tmp_path / "c.wav", has_audio=False) == 0


def test_write_timeline_json(tmp_path):
    info = {"n_frames": 50, "fps": 25.0, "width": 96, "height": 72, "duration_s": 2.0}
    record = write_timeline(tmp_path / "x.timeline.json", "x", info)
    stored = json.loads((tmp_path / "x.timeline.json").read_text())
    assert stored == record
    assert len(stored["timeline"]) == 120 and stored["unique_frames"] == list(range(50))
