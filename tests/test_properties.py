"""Properties (hypothesis) of the pure functions that read outside data: the dataset adapters' name
rules and actor splits, the list reader, the 60-fps timeline, the fusion grid and the submission
writer, and the padding of short sequences. Each property is an invariant of a documented contract (the module's docstring,
docs/datasets.md or the paper section named beside it), checked on generated inputs; an input that
once broke a property stays as an explicit @example."""
from __future__ import annotations

import csv
import itertools
import math
import re
import string
import tempfile
import zipfile
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from avemotion.artifacts import QUARANTINE_COLUMNS, read_predictions, read_tsv, write_predictions, write_tsv
from avemotion.constants import CLASS_NAMES, CLASSES, EMOTIW_EMOTIONS, SPLITS, TIMELINE_FPS
from avemotion.datasets import (
    CLIP_ID_PATTERN, actor_split, afew_candidates, clip_id_from_stem, cremad_candidates, list_candidates,
    normalize_label, ravdess_candidates,
)
from avemotion.fusion import align_predictions, fuse_probabilities, fused_rows, grid_search_weights, \
    simplex_grid, split_metrics
from avemotion.media import timeline_map
from avemotion.padding import pad_sequence_to_min_length
from avemotion.submission import build_submission, submission_entries, write_submission_zip

PURE = settings(max_examples=80, deadline=None)
# padding examples are tiny arrays: a few suffice to vary the lengths around the minimum
PADS = settings(max_examples=40, deadline=None)
FILES = settings(max_examples=30, deadline=None)  # examples that write files: fewer, no deadline

# docs/datasets.md: AFEW's emotion folders (any case), CREMA-D's emotion codes; the paper's classes.
AFEW_FOLDERS = {"Angry": "AN", "Disgust": "DI", "Fear": "FE", "Happy": "HA", "Neutral": "NE", "Sad": "SA",
                "Surprise": "SU"}
CREMAD_CODES = {"ANG": "AN", "DIS": "DI", "FEA": "FE", "HAP": "HA", "NEU": "NE", "SAD": "SA"}
SPELLINGS = {**AFEW_FOLDERS, **CREMAD_CODES, **{c: c for c in CLASSES},
             **{name: code for code, name in CLASS_NAMES.items()}}
# The RAVDESS release's emotion codes; calm (02) folded into neutral (dataset.ravdess_calm's default).
RAVDESS_CODES = {"01": "NE", "02": "NE", "03": "HA", "04": "SA", "05": "AN", "06": "FE", "07": "DI", "08": "SU"}
RAVDESS_SPEC = re.compile(r"(0[1-3])-(0[12])-(0[1-8])-[0-9]{2}-[0-9]{2}-[0-9]{2}-([0-9]{2})")
CREMAD_SPEC = re.compile(r"([0-9]{4})_[A-Z]{3}_(ANG|DIS|FEA|HAP|NEU|SAD)_[A-Z]{2}")

PADDING = st.sampled_from(["", " ", "  ", "\t"])
CLIP_IDS = st.builds(lambda first, rest: first + rest, st.sampled_from(string.ascii_letters + string.digits),
                     st.text(string.ascii_letters + string.digits + "_.-", max_size=10))
FRACTIONS = st.tuples(st.floats(0, 1), st.floats(0, 1)).map(lambda f: (f[0], f[1] * (1 - f[0])))


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is shared by all examples of a test)."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def any_case(word: str) -> st.SearchStrategy[str]:
    flips = st.lists(st.booleans(), min_size=len(word), max_size=len(word))
    return flips.map(lambda upper: "".join(c.upper() if u else c.lower() for c, u in zip(word, upper)))


def padded(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(PADDING, text, PADDING).map("".join)


@st.composite
def mutated(draw, names: st.SearchStrategy[str]) -> str:
    """A name, or the name with one character inserted, replaced or deleted: any character a file
    name can hold but the suffix separator, most often the usual traps of a name pattern (digits of
    other scripts, whitespace, the separators)."""
    name = draw(names)
    edit = draw(st.sampled_from(["none", "insert", "replace", "delete"]))
    if edit == "none" or not name:
        return name
    i = draw(st.integers(0, len(name)) if edit == "insert" else st.integers(0, len(name) - 1))
    char = draw(st.one_of(st.characters(categories=["Nd"], exclude_characters=string.digits),
                          st.sampled_from("\n\t _-"),
                          st.characters(exclude_categories=["Cs"], exclude_characters="/\x00.")))
    return {"insert": name[:i] + char + name[i:], "replace": name[:i] + char + name[i + 1:],
            "delete": name[:i] + name[i + 1:]}[edit]


@PURE
@given(st.text(max_size=30))
def test_a_clip_id_is_a_file_name_and_wildcard_made_from_the_stem(stem):
    # datasets.py: clip ids become file names and Snakemake wildcards; invalid characters become '_'.
    clip_id = clip_id_from_stem(stem)
    assert re.fullmatch(CLIP_ID_PATTERN, clip_id)
    assert clip_id_from_stem(clip_id) == clip_id
    tail = clip_id[len(clip_id) - len(stem):] if stem else ""
    assert all(kept in (original, "_") for kept, original in zip(tail, stem))


@PURE
@given(CLIP_IDS)
def test_a_valid_stem_is_its_own_clip_id(stem):
    # docs/datasets.md: the clip id is the file stem.
    assert clip_id_from_stem(stem) == stem


@PURE
@given(st.sampled_from(sorted(SPELLINGS)).flatmap(lambda word: st.tuples(padded(any_case(word)), st.just(word))))
def test_every_spelling_of_a_class_maps_onto_its_code(spelling_and_word):
    spelling, word = spelling_and_word
    assert normalize_label(spelling) == SPELLINGS[word]


@PURE
@given(st.text(max_size=12))
def test_a_label_is_a_class_code_or_unknown(text):
    assert normalize_label(text) in (*CLASSES, None)


AFEW_SPLIT_FOLDERS = {"Train_AFEW": "train", "Val_AFEW": "val", "Test_AFEW": "test"}
AFEW_PLACES = st.tuples(
    st.sampled_from(["", "AFEW/", "EmotiW/AFEW/"]),
    st.one_of(st.sampled_from(sorted(AFEW_SPLIT_FOLDERS)).flatmap(any_case), st.just("stray")),
    st.one_of(st.sampled_from(sorted(AFEW_FOLDERS)).flatmap(any_case), st.sampled_from(["", "Bored", "misc"])),
    any_case(".avi"),
)


@FILES
@given(st.lists(AFEW_PLACES, max_size=8))
def test_afew_folders_in_any_case_give_split_and_label(places):
    # docs/datasets.md, AFEW: split folders anywhere below path, emotion folders in any case; flat or
    # non-emotion test clips are unlabelled test clips; everything else is rejected with a reason.
    with scratch() as root:
        expected, files = {}, []
        for number, (prefix, split_folder, emotion, suffix) in enumerate(places):
            stem = f"{number:09d}"
            files.append(str(touch(root / prefix / split_folder / emotion / f"{stem}{suffix}")))
            split = next((s for f, s in AFEW_SPLIT_FOLDERS.items() if f.lower() == split_folder.lower()), None)
            label = next((code for name, code in AFEW_FOLDERS.items() if name.lower() == emotion.lower()), None)
            if split == "test" and label is None:
                label = ""
            if split and label is not None:
                expected[stem] = (label, split)
        candidates, rejections = afew_candidates(root)
    assert {c.clip_id: (c.label, c.split) for c in candidates} == expected
    assert sorted([c.path for c in candidates] + [r.path for r in rejections]) == sorted(files)


TWO_DIGITS = st.sampled_from(["00", "04", "09", "12", "24", "99"])
RAVDESS_NAMES = st.tuples(st.sampled_from(["01", "02", "03"]) | TWO_DIGITS, st.sampled_from(["01", "02"]) | TWO_DIGITS,
                          st.sampled_from(sorted(RAVDESS_CODES)) | TWO_DIGITS,
                          *[st.sampled_from(["01", "02", "12", "24"])] * 4).map("-".join)
NAMES = settings(max_examples=150, deadline=None)  # one small file per example; name traps are rare draws


@NAMES
@given(mutated(RAVDESS_NAMES), st.sampled_from([".mp4", ".wav"]), st.integers(0, 5), FRACTIONS)
@example("01-01-01-\u06601-01-01-01", ".mp4", 0, (0.2, 0.2))
@example("01-01-05-01-01-01-01\n", ".mp4", 0, (0.2, 0.2))
def test_ravdess_takes_exactly_the_seven_part_names(stem, suffix, seed, fractions):
    # docs/datasets.md, RAVDESS: MM-VC-EM-IN-ST-RE-AC (two ASCII digits each; modality 01 audio-video,
    # 02 video-only, 03 audio-only in a .wav; vocal channel 01/02; emotion 01-08), split by actor.
    # Any other name, and a recording with audio only, is rejected.
    with scratch() as root:
        path = touch(root / "Actor_01" / f"{stem}{suffix}")
        candidates, rejections = ravdess_candidates(root, "neutral", *fractions, seed=seed)
    match = RAVDESS_SPEC.fullmatch(stem)
    if match and match.group(1) != "03" and suffix == ".mp4":
        (clip,) = candidates
        assert (clip.clip_id, clip.path, clip.label) == (stem, str(path), RAVDESS_CODES[match.group(3)])
        assert clip.split == actor_split("ravdess", match.group(4), seed, *fractions)
        assert rejections == []
    else:
        assert candidates == [] and [r.path for r in rejections] == [str(path)]


RAVDESS_RECORDING = st.tuples(st.sampled_from(["01", "02"]), st.sampled_from(sorted(RAVDESS_CODES)),
                              st.sampled_from(["01", "02"]), st.integers(1, 24))


@FILES
@given(st.lists(st.tuples(RAVDESS_RECORDING, st.sets(st.sampled_from(["01", "02", "03"]), min_size=1),
                          st.sampled_from(["", "Video_Speech/", "Audio_Speech/"])), max_size=6))
def test_ravdess_keeps_one_clip_per_recording_and_every_file_once(recordings):
    # docs/datasets.md, RAVDESS: the 01 file, else the 02 file with its 03 twin as audio_path (the
    # first copy by path); the recording's other files are rejected, as is a recording with audio
    # only; an actor is in one split.
    with scratch() as root:
        files, names = set(), set()
        for (channel, emotion, statement, actor), modalities, folder in recordings:
            name = f"{channel}-{emotion}-01-{statement}-01-{actor:02d}"
            names.add(name)
            for modality in modalities:
                suffix = ".wav" if modality == "03" else ".mp4"
                files.add(str(touch(root / folder / f"Actor_{actor:02d}" / f"{modality}-{name}{suffix}")))
        expected = {}
        for name in names:
            copies = {m: sorted(root.rglob(f"{m}-{name}.*")) for m in ("01", "02", "03")}
            videos = copies["01"] + copies["02"]
            if videos:
                audio = str(copies["03"][0]) if copies["03"] and not copies["01"] else ""
                expected[videos[0].stem] = (str(videos[0]), audio, RAVDESS_CODES[name.split("-")[1]])
        candidates, rejections = ravdess_candidates(root, "neutral", 0.3, 0.3, seed=0)
    assert {c.clip_id: (c.path, c.audio_path, c.label) for c in candidates} == expected
    listed = [c.path for c in candidates] + [c.audio_path for c in candidates if c.audio_path]
    assert sorted(listed + [r.path for r in rejections]) == sorted(files)
    splits = {(c.clip_id[-2:], c.split) for c in candidates}
    assert len(splits) == len({actor for actor, _ in splits})


CREMAD_NAMES = st.tuples(st.sampled_from(["1001", "1091"]) | st.sampled_from(["0007", "100", "10011"]),
                         st.sampled_from(["DFA", "IEO", "TIE"]) | st.just("dfa"),
                         st.sampled_from(sorted(CREMAD_CODES)) | st.sampled_from(["SUR", "ang"]),
                         st.sampled_from(["XX", "HI", "LO", "MD"]) | st.just("lo")).map("_".join)


@NAMES
@given(mutated(CREMAD_NAMES), st.integers(0, 5), FRACTIONS)
@example("\u0660001_DFA_ANG_XX", 0, (0.0, 0.0))
def test_cremad_takes_exactly_the_four_part_names(stem, seed, fractions):
    # docs/datasets.md, CREMA-D: AAAA_SSS_EMO_LV (actor digits, sentence, ANG DIS FEA HAP NEU SAD,
    # level); the clip is the video with the same-named .wav as its audio. Anything else is rejected.
    with scratch() as root:
        video, audio = touch(root / "VideoFlash" / f"{stem}.flv"), touch(root / "AudioWAV" / f"{stem}.wav")
        candidates, rejections = cremad_candidates(root, *fractions, seed=seed)
    match = CREMAD_SPEC.fullmatch(stem)
    if match:
        (clip,) = candidates
        assert (clip.clip_id, clip.path, clip.audio_path) == (stem, str(video), str(audio))
        assert clip.label == CREMAD_CODES[match.group(2)]
        assert clip.split == actor_split("cremad", match.group(1), seed, *fractions)
        assert rejections == []
    else:
        assert candidates == [] and sorted(r.path for r in rejections) == sorted([str(audio), str(video)])


def write_cremad(root: Path, actors: set[int]) -> None:
    for actor in actors:
        for sentence in ("DFA", "IEO"):
            touch(root / "VideoFlash" / f"{actor}_{sentence}_HAP_XX.flv")
            touch(root / "AudioWAV" / f"{actor}_{sentence}_HAP_XX.wav")


@FILES
@given(st.sets(st.integers(1001, 1091), min_size=1, max_size=5), st.sets(st.integers(1001, 1091), max_size=5),
       st.integers(0, 1000), FRACTIONS)
def test_adding_actors_never_moves_another(actors, more, seed, fractions):
    # docs/datasets.md, actor splits: an actor's split depends on (dataset, actor, seed) only, so no
    # actor is in two splits and adding actors never moves another.
    with scratch() as root:
        write_cremad(root, actors)
        before = {c.clip_id: c.split for c in cremad_candidates(root, *fractions, seed=seed)[0]}
        write_cremad(root, more)
        after = {c.clip_id: c.split for c in cremad_candidates(root, *fractions, seed=seed)[0]}
    assert {clip: after[clip] for clip in before} == before
    by_actor = {}
    for clip, split in after.items():
        by_actor.setdefault(clip[:4], set()).add(split)
    assert all(len(splits) == 1 for splits in by_actor.values())
    assert {actor: splits.pop() for actor, splits in by_actor.items()} == {
        str(actor): actor_split("cremad", str(actor), seed, *fractions) for actor in actors | more}


@PURE
@given(st.sampled_from(["ravdess", "cremad"]), st.integers(0, 9999), st.integers(0, 10**6), FRACTIONS,
       st.integers(1, 3))
def test_an_actor_is_its_number_not_its_spelling(dataset, actor, seed, fractions, zeros):
    # docs/datasets.md: a hash of the actor *number* (RAVDESS `07` and split-file `7` are one actor).
    assert actor_split(dataset, "0" * zeros + str(actor), seed, *fractions) == \
        actor_split(dataset, str(actor), seed, *fractions)


@PURE
@given(st.sampled_from(["ravdess", "cremad"]), st.integers(0, 9999), st.integers(0, 10**6), FRACTIONS,
       st.floats(0, 1), st.floats(0, 1))
def test_larger_fractions_only_move_actors_into_val_and_out_of_train(dataset, actor, seed, small, more_val, more_cut):
    # datasets.actor_split: one point in [0, 1) cut at val_fraction and val_fraction + test_fraction.
    val, test = small
    val2 = val + more_val * (1 - val)
    cut2 = max(val + test, val2) + more_cut * (1 - max(val + test, val2))
    before, after = (actor_split(dataset, str(actor), seed, *f) for f in (small, (val2, cut2 - val2)))
    assert before != "val" or after == "val"
    assert after != "train" or before == "train"


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10**6), FRACTIONS)
def test_the_fractions_hold_on_average_over_actors(seed, fractions):
    # docs/datasets.md, actor splits: the fractions hold on average over actors.
    splits = [actor_split("ravdess", str(actor), seed, *fractions) for actor in range(2000)]
    # 2000 actors: a share 0.06 off is 5.4 standard deviations or more (the most, 0.011, at a share
    # of 0.5): about 1 in 10^7 a check.
    assert abs(splits.count("val") / 2000 - fractions[0]) < 0.06
    assert abs(splits.count("test") / 2000 - fractions[1]) < 0.06


LIST_ROWS = st.fixed_dictionaries({
    "path": st.tuples(st.sampled_from(["", "/data/", "clips/"]),
                      st.text(string.ascii_letters + string.digits + " _-,", min_size=1, max_size=8)
                      .filter(lambda name: name.strip() == name), st.sampled_from([".mp4", ".avi"])).map("".join),
    "label": padded(st.sampled_from(sorted(SPELLINGS)).flatmap(any_case) | st.sampled_from(["", "bored", "calm"])),
    "split": padded(st.one_of(st.sampled_from(SPLITS).flatmap(any_case), st.just("holdout"))),
    "clip_id": padded(st.one_of(st.just(""), CLIP_IDS)),
})


@FILES
@given(st.lists(LIST_ROWS, max_size=6), st.sampled_from([",", "\t"]), st.booleans(), st.randoms())
@example([], ",", False, None)
@example([{"path": "0.mp4", "label": "", "split": "test", "clip_id": " "}], ",", True, None)
def test_every_list_row_is_a_clip_or_rejected_once(rows, delimiter, with_clip_ids, random):
    # docs/datasets.md, your own list: CSV or TSV with columns path, label, split (optional clip_id,
    # any column order); relative paths relative to the list file; labels in any spelling; an empty
    # label only for test clips. Fields may carry surrounding whitespace (the reader strips them).
    columns = ["path", "label", "split"] + (["clip_id"] if with_clip_ids else [])
    if random is not None:
        random.shuffle(columns)
    with scratch() as folder:
        list_file = folder / "lists" / "clips.csv"
        list_file.parent.mkdir()
        with list_file.open("w", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(columns)
            writer.writerows([[row[c] for c in columns] for row in rows])
        candidates, rejections = list_candidates(list_file)
    expected, rejected = [], []
    for row in rows:
        path = row["path"].strip()
        path = path if path.startswith("/") else str(list_file.parent / path)
        clip_id = clip_id_from_stem((row["clip_id"].strip() if with_clip_ids else "") or Path(path).stem)
        split, label = row["split"].strip().lower(), row["label"].strip()
        code = next((SPELLINGS[w] for w in SPELLINGS if w.lower() == label.lower()), None) if label else \
            ("" if split == "test" else None)
        if split in SPLITS and code is not None:
            expected.append((clip_id, path, code, split))
        else:
            rejected.append((clip_id, path))
    assert [(c.clip_id, c.path, c.label, c.split) for c in candidates] == expected
    assert [(r.clip_id, r.path) for r in rejections] == rejected


SOURCE_FPS = st.one_of(st.sampled_from([23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 100.0, 120.0]),
                       st.floats(1.0, 240.0))


@PURE
@given(st.integers(1, 2000), SOURCE_FPS)
@example(2, 48.0)
def test_the_timeline_shows_the_source_frame_of_every_60fps_instant(n_frames, fps):
    # Paper 2.1 (frames taken at 60 fps) and media.timeline_map: timeline frame k shows the source
    # frame on screen at t = k/60; the timeline spans the clip (its duration in 60-fps frames, at least
    # rounded, never an instant past the end); a source at most 60 fps has every frame shown.
    timeline = timeline_map(n_frames, fps)
    duration = Fraction(n_frames) * TIMELINE_FPS / Fraction(fps)  # in 60-fps frames
    assert len(timeline) >= 1 and len(timeline) >= duration - Fraction(1, 2)
    assert len(timeline) - 1 < duration
    assert timeline[0] == 0 and np.all(np.diff(timeline) >= 0)
    assert timeline.min() >= 0 and timeline.max() < n_frames
    position = np.arange(len(timeline)) * fps / TIMELINE_FPS  # source frames elapsed at k/60
    assert np.all(timeline <= position + 2e-6) and np.all(position < timeline + 1 + 1e-9)
    if fps <= TIMELINE_FPS:
        assert np.array_equal(np.unique(timeline), np.arange(n_frames))


def compositions(n_models: int, resolution: int) -> set[tuple[int, ...]]:
    """Every way to share `resolution` grid steps among the models, by brute force."""
    return {c for c in itertools.product(range(resolution + 1), repeat=n_models) if sum(c) == resolution}


@PURE
@given(st.integers(1, 4), st.integers(1, 12))
def test_the_grid_is_every_weight_vector_on_the_simplex_with_the_step(n_models, resolution):
    # Paper 3.2 and fusion.simplex_grid: weights >= 0, summing to one, multiples of the step; each once,
    # C(K + M - 1, M - 1) of them.
    grid = simplex_grid(n_models, 1 / resolution)
    assert len({tuple(row) for row in grid}) == len(grid)
    assert {tuple(row) for row in grid} == compositions(n_models, resolution)
    assert len(grid) == math.comb(resolution + n_models - 1, n_models - 1)


@st.composite
def val_predictions(draw) -> tuple[dict[str, list[dict]], np.ndarray, np.ndarray, list[str]]:
    """Models' val prediction tables (a clip a model did not see: quarantined, or missing)."""
    n_models, n_clips = draw(st.integers(1, 3)), draw(st.integers(1, 8))
    probs = draw(arrays(float, (n_models, n_clips, len(CLASSES)), elements=st.floats(0, 1)))
    seen = draw(arrays(bool, (n_models, n_clips)))
    labels = draw(st.lists(st.sampled_from((*CLASSES, "")), min_size=n_clips, max_size=n_clips))
    tables = {}
    for m in range(n_models):
        rows = []
        for n, label in enumerate(labels):
            row = {"clip_id": f"v{n}", "split": "val", "label": label}
            if seen[m, n]:
                rows.append({**row, "probs": probs[m, n], "status": "ok", "reason": ""})
            elif m == 0 or draw(st.booleans()):  # a clip no table lists would not be a val clip at all
                rows.append({**row, "probs": None, "status": "quarantined", "reason": "no face"})
        tables[f"model{m}"] = rows
    return tables, probs, seen, labels


def val_accuracy(val, weights: np.ndarray) -> float | None:
    return split_metrics(fused_rows(val, np.asarray(weights, dtype=float)), "val")["accuracy"]


@settings(max_examples=50, deadline=None)
@given(val_predictions(), st.sampled_from([1, 2, 3, 4, 5, 10]))
def test_the_chosen_weights_beat_every_grid_point_and_every_single_model(problem, resolution):
    # Paper 3.2: grid search picks the weights that maximise val accuracy; the fused rows written with
    # them score what the search reports; no grid point and no model alone does better on val.
    tables, probs, seen, labels = problem
    val = align_predictions(tables)
    result = grid_search_weights(val, 1 / resolution)
    assert np.all(result.weights >= 0) and math.isclose(result.weights.sum(), 1)
    assert result.n_grid_points == len(compositions(len(tables), resolution))
    if not any(labels):
        assert np.allclose(result.weights, 1 / len(tables)) and math.isnan(result.val_accuracy)
        return
    assert tuple(np.rint(result.weights * resolution).astype(int)) in compositions(len(tables), resolution)
    assert val_accuracy(val, result.weights) == result.val_accuracy
    for point in compositions(len(tables), resolution):
        assert val_accuracy(val, np.array(point) / resolution) <= result.val_accuracy
    labelled = [n for n, label in enumerate(labels) if label]
    for m in range(len(tables)):
        alone = sum(bool(seen[m, n]) and CLASSES[int(np.argmax(probs[m, n]))] == labels[n] for n in labelled)
        assert alone / len(labelled) <= result.val_accuracy


@st.composite
def fusion_inputs(draw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_models, n_clips = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    probs = draw(arrays(float, (n_models, n_clips, len(CLASSES)), elements=st.floats(0.01, 1)))
    seen = draw(arrays(bool, (n_models, n_clips)))
    weights = draw(arrays(float, n_models, elements=st.floats(0, 1, allow_subnormal=False)))
    return probs / probs.sum(axis=-1, keepdims=True), seen, weights


@PURE
@given(fusion_inputs())
def test_a_clip_is_fused_over_the_models_that_saw_it(inputs):
    # fusion.py: weights renormalised over the models that saw the clip (equal weights when theirs are
    # all 0); a clip no model saw has no fused probabilities; an unseen model's output is ignored.
    probs, seen, weights = inputs
    fused = fuse_probabilities(probs, seen, weights)
    for n in range(probs.shape[1]):
        saw = seen[:, n]
        if not saw.any():
            assert np.isnan(fused[n]).all()
            continue
        share = weights[saw] / weights[saw].sum() if weights[saw].sum() > 0 else np.full(saw.sum(), 1 / saw.sum())
        # float64 sums of the same products in another order: a few eps (2.2e-16), far inside
        assert np.allclose(fused[n], share @ probs[saw, n], rtol=1e-9, atol=1e-12)
        assert math.isclose(fused[n].sum(), 1, rel_tol=1e-9)
    garbage = np.where(seen[..., None], probs, np.nan)
    np.testing.assert_array_equal(fuse_probabilities(garbage, seen, weights), fused)


@st.composite
def submission_inputs(draw) -> tuple[list[dict], list[dict], list[dict]]:
    """Fused rows, manifest rows and quarantine rows of one run (any split; a test clip may lack a
    fused row or have a quarantined one; a quarantined clip may have two files, or share its id with
    a manifest clip: the second copy of a duplicate id)."""
    ids = draw(st.lists(CLIP_IDS, unique=True, max_size=10))
    cut = draw(st.integers(0, len(ids)))
    manifest = [{"clip_id": c, "split": draw(st.sampled_from(SPLITS)), "label": draw(st.sampled_from((*CLASSES, "")))}
                for c in ids[:cut]]
    fused = []
    for clip in manifest:
        kind = draw(st.sampled_from(["ok", "quarantined", "absent"]))
        row = {**clip, "reason": ""}
        if kind == "ok":
            probs = draw(arrays(float, len(CLASSES), elements=st.floats(0, 1)))
            fused.append({**row, "probs": probs, "status": "ok"})
        elif kind == "quarantined":
            fused.append({**row, "probs": None, "status": "quarantined", "reason": f"clip {clip['clip_id']}: no model"})
    quarantined = ids[cut:] + draw(st.lists(st.sampled_from(ids), max_size=3)) if ids else []
    quarantine = []
    for clip_id in quarantined:
        split = draw(st.sampled_from(["test", "val", ""]))
        for suffix in draw(st.sampled_from([[".avi"], [".mp4", ".wav"]])):
            quarantine.append({"clip_id": clip_id, "path": f"x/{clip_id}{suffix}", "stage": "probe",
                               "reason": "zero-byte file", "split": split})
    return fused, manifest, quarantine


def expected_test_clips(manifest: list[dict], quarantine: list[dict]) -> list[str]:
    return sorted({r["clip_id"] for r in manifest + quarantine if r["split"] == "test"})


def zip_contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@FILES
@given(submission_inputs(), st.randoms())
def test_every_test_clip_once_and_the_zip_the_same_whatever_the_order(inputs, random):
    # submission.py: one entry per test clip (manifest or quarantine, split test); a .txt holding an
    # EmotiW emotion name for each clip the fusion predicted (its argmax class); the zip's bytes
    # depend on the predictions only, not on the order of the rows.
    fused, manifest, quarantine = inputs
    entries = submission_entries(fused, manifest, quarantine)
    assert [e.clip_id for e in entries] == expected_test_clips(manifest, quarantine)
    test_manifest = {r["clip_id"] for r in manifest if r["split"] == "test"}
    predicted = {r["clip_id"]: CLASSES[int(np.argmax(r["probs"]))] for r in fused
                 if r["status"] == "ok" and r["clip_id"] in test_manifest}
    assert {e.clip_id: e.class_code for e in entries if e.predicted} == predicted
    shuffled = [random.sample(rows, len(rows)) for rows in (fused, manifest, quarantine)]
    with scratch() as folder:
        assert write_submission_zip(folder / "a.zip", entries) == len(predicted)
        write_submission_zip(folder / "b.zip", submission_entries(*shuffled))
        assert (folder / "a.zip").read_bytes() == (folder / "b.zip").read_bytes()
        contents = zip_contents(folder / "a.zip")
    assert contents == {f"{clip}.txt": EMOTIW_EMOTIONS[code].encode() for clip, code in predicted.items()}
    assert set(contents.values()) <= {name.encode() for name in EMOTIW_EMOTIONS.values()}


@FILES
@given(submission_inputs())
def test_the_submission_table_lists_every_test_clip_once_beside_its_file(inputs):
    # submission.py, build_submission: predictions.tsv has one row per test clip; its `file` column
    # names exactly the zip's members, each holding the row's emotion.
    fused, manifest, quarantine = inputs
    with scratch() as folder:
        write_predictions(folder / "fusion.tsv", fused)
        write_tsv(folder / "manifest.tsv", ("clip_id", "split", "label"), manifest)
        write_tsv(folder / "quarantine.tsv", QUARANTINE_COLUMNS, quarantine)
        build_submission(folder / "fusion.tsv", folder / "manifest.tsv", folder / "quarantine.tsv",
                         folder / "submission.zip", folder / "predictions.tsv")
        table = read_tsv(folder / "predictions.tsv")
        contents = zip_contents(folder / "submission.zip")
        fused_back = {r["clip_id"]: r for r in read_predictions(folder / "fusion.tsv")}
    assert [row["clip_id"] for row in table] == expected_test_clips(manifest, quarantine)
    assert {row["file"]: row["emotion"].encode() for row in table if row["file"]} == contents
    for row in table:
        if row["file"]:
            probs = fused_back[row["clip_id"]]["probs"]
            assert row["emotion"] == EMOTIW_EMOTIONS[CLASSES[int(np.argmax(probs))]]


@PADS
@given(st.integers(1, 20), st.integers(1, 20), st.sampled_from([(3,), (2, 2)]))
@example(16, 16, (3,))  # exactly the minimum (paper 2.3's 16 vectors): returned as it is
def test_a_short_sequence_is_padded_with_its_last_element_and_a_long_one_kept(n, min_length, element):
    # padding.py: min_length - n copies of the last element after the sequence; a sequence at least
    # min_length long is returned as it is (the same array, not a copy)
    sequence = np.arange(n * math.prod(element), dtype=float).reshape(n, *element)
    padded = pad_sequence_to_min_length(sequence, min_length)
    if n >= min_length:
        assert padded is sequence
        return
    assert padded.shape == (min_length, *element)
    assert np.array_equal(padded[:n], sequence)
    assert np.array_equal(padded[n:], np.repeat(sequence[-1:], min_length - n, axis=0))


def test_an_empty_sequence_is_refused_with_the_reason():
    # padding.py: an empty sequence has no last element to copy; the error says so
    with pytest.raises(ValueError, match="^cannot pad an empty sequence$"):
        pad_sequence_to_min_length(np.zeros((0, 34)), 16)
