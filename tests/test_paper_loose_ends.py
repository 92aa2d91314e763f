"""Where the paper can be read two ways or needs an input the project cannot ship: track B without
the organisers' faces, a VGG-Face file without fc6/fc7, what "every 8 frames" counts, which FER-2013
rows step (a) uses, and the docs that state the paper config's choices."""
from __future__ import annotations

import copy
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from avemotion.config import (
    ORGANISER_FACES_KEY,
    SCHEMA,
    PretrainingFileError,
    check_pretraining_files,
    load_config,
    paper_deviations,
)
from avemotion.constants import FER2013_USAGES, FRAME_GAP_UNITS, PAPER_CONFIG
from avemotion.faces.frames import Timeline
from avemotion.faces.stack import FaceStackWriter, finish_stack
from avemotion.media import timeline_map
from avemotion.models import data, sampling
from avemotion.models.clips import Clip
from avemotion.models.pipelines import vgg_lstm_recipe
from conftest import REPO, run_snakemake
from test_paper_config import PAPER_YAML, write_fer_csv, write_vgg_face_stand_in
from test_vgg_face import write_keras

FACE_SIZE = 8


def paper_on_afew(tmp_path: Path, **vgg_settings) -> dict:
    """configs/paper.yaml on AFEW with usable pretraining files and these `models.vgg_lstm` settings."""
    config = copy.deepcopy(load_config(PAPER_YAML))
    config["dataset"]["path"] = str(tmp_path)
    files = {"vgg_face_weights": str(write_vgg_face_stand_in(tmp_path / "vgg_face_dag.pth")),
             "fer2013_csv": str(write_fer_csv(tmp_path / "fer2013.csv"))}
    config["models"]["vgg_lstm"].update(files, **vgg_settings)
    return config


def deviation_keys(config: dict) -> list[str]:
    return [deviation.key for deviation in paper_deviations(config)]


def test_paper_config_on_afew_without_organiser_faces_stops_naming_the_key(tmp_path):
    config = paper_on_afew(tmp_path)
    with pytest.raises(PretrainingFileError) as error:
        check_pretraining_files(config)
    message = str(error.value)
    assert f"{ORGANISER_FACES_KEY} is empty but models.vgg_lstm.require_pretraining is true" in message
    assert "mediapipe" in message and "3.2" in message
    config["faces"]["track_b"]["dataset_faces_dir"] = str(tmp_path)
    check_pretraining_files(config)
    config["faces"]["track_b"]["dataset_faces_dir"] = str(tmp_path / "Faces")
    with pytest.raises(PretrainingFileError, match=rf"{ORGANISER_FACES_KEY} = '.*Faces': no such folder"):
        check_pretraining_files(config)


def test_without_the_requirement_the_report_lists_track_b_as_a_deviation(tmp_path):
    config = paper_on_afew(tmp_path, require_pretraining=False)
    check_pretraining_files(config)
    deviations = {deviation.key: str(deviation) for deviation in paper_deviations(config)}
    assert deviations[ORGANISER_FACES_KEY].startswith(f"{ORGANISER_FACES_KEY}: not set, paper ")
    assert "organisers" in deviations[ORGANISER_FACES_KEY] and "mediapipe instead" in deviations[ORGANISER_FACES_KEY]
    config["faces"]["track_b"]["dataset_faces_dir"] = str(tmp_path)
    assert ORGANISER_FACES_KEY not in deviation_keys(config)


def test_only_afew_has_organiser_faces_to_miss():
    demo = load_config()
    assert demo["dataset"]["kind"] == "demo" and ORGANISER_FACES_KEY not in deviation_keys(demo)
    check_pretraining_files(demo)
    assert ORGANISER_FACES_KEY not in deviation_keys(load_config(PAPER_YAML))  # the check stops that run instead


def test_the_workflow_stops_before_any_job_without_organiser_faces(tmp_path):
    config = paper_on_afew(tmp_path)
    configfile = tmp_path / "paper_afew.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(tmp_path / "run", "-n", "--cores", "1", configfile=configfile, check=False, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{ORGANISER_FACES_KEY} is empty" in output
    assert "Job stats" not in output, output[-3000:]  # stopped before Snakemake plans any job


def test_keras_notop_file_stops_a_run_that_requires_pretraining(tmp_path):
    notop = tmp_path / "rcmalli_vggface_tf_notop_vgg16.h5"
    write_keras(notop, np.random.default_rng(0), top=False)
    config = paper_on_afew(tmp_path, vgg_face_weights=str(notop))
    config["faces"]["track_b"]["dataset_faces_dir"] = str(tmp_path)
    with pytest.raises(PretrainingFileError) as error:
        check_pretraining_files(config)
    message = str(error.value)
    assert "models.vgg_lstm.vgg_face_weights = " in message and "without fc6 and fc7" in message
    assert "random init" in message and "require_pretraining: false" in message
    config["models"]["vgg_lstm"]["require_pretraining"] = False
    check_pretraining_files(config)  # accepted: the loader warns that fc6 and fc7 keep their init


def test_full_vgg_face_files_pass_the_fc_check(tmp_path):
    from avemotion.models.vgg_face import missing_fc_layers

    full, notop = tmp_path / "full.h5", tmp_path / "notop.h5"
    write_keras(full, np.random.default_rng(1))
    write_keras(notop, np.random.default_rng(1), top=False)
    assert missing_fc_layers(full) == () and missing_fc_layers(notop) == ("fc6", "fc7")
    assert missing_fc_layers(write_vgg_face_stand_in(tmp_path / "vgg_face_dag.pth")) == ()


def write_stack(path: Path, source_fps: float, n_source: int, face_frames: list[int]) -> Path:
    """A face stack as the face stage writes it (its writer, its 60-fps timeline): a face at each of
    `face_frames`, every pixel of it the frame's number."""
    frames = timeline_map(n_source, source_fps)
    timeline = Timeline("clip", source_fps, frames, np.unique(frames))
    with h5py.File(path, "w") as handle:
        writer = FaceStackWriter(handle, FACE_SIZE, 0)
        for frame in face_frames:
            writer.add(frame, np.full((FACE_SIZE, FACE_SIZE, 3), frame, np.uint8), np.zeros((0, 2)),
                       np.full((4, 2), np.nan), 1.0)
        finish_stack(handle, writer, timeline, "dataset", FACE_SIZE, "b", None)
    return path


def window_frames(path: Path, config: dict) -> list[list[int]]:
    """The source frame of each face of each evaluation window."""
    return data.clip_face_windows(path, config)[:, :, 0, 0, 0].tolist()


def vgg_config(**settings) -> dict:
    return dict(load_config()["models"]["vgg_lstm"], **settings)


def test_the_gap_counts_timeline_or_source_frames(tmp_path):
    path = write_stack(tmp_path / "clip.h5", 25.0, 50, list(range(50)))  # 2 s at 25 fps: 120 timeline frames
    timeline = vgg_config(sequence_length=4, frame_gap=8)
    assert timeline["frame_gap_unit"] == "timeline"
    # timeline frames 0, 8, 16, 24 show source frames floor(t * 25 / 60)
    assert window_frames(path, timeline)[0] == [0, 3, 6, 10]
    assert window_frames(path, dict(timeline, frame_gap_unit="source")) == [[0, 8, 16, 24], [18, 26, 34, 42]]


def test_source_frames_without_a_face_take_the_nearest_face(tmp_path):
    path = write_stack(tmp_path / "clip.h5", 25.0, 50, [0, 7, 17, 30])
    config = vgg_config(sequence_length=4, frame_gap=8, frame_gap_unit="source")
    assert window_frames(path, config)[0] == [0, 7, 17, 30]  # 8 -> 7, 16 -> 17, 24 -> 30 (nearer than 17)


def test_a_source_above_60_fps_counts_the_frames_its_timeline_shows():
    timeline = np.array([0, -1, 1, 2])
    np.testing.assert_array_equal(sampling.source_frame_rows(timeline, np.array([0, 4, 6]), 4), timeline)
    np.testing.assert_array_equal(sampling.source_frame_rows(np.array([0, 0, -1, 1]), np.array([0, 2]), 3), [0, -1, 1])
    with pytest.raises(ValueError, match="outside"):
        sampling.source_frame_rows(np.array([0, 0, 1, 1]), np.array([0, 5]), 2)


def test_the_timeline_reading_is_the_one_the_models_always_used(tmp_path):
    """The default samples exactly as before the unit existed (the demo's predictions are unchanged)."""
    from avemotion.artifacts import read_face_stack

    path = write_stack(tmp_path / "clip.h5", 30.0, 75, list(range(0, 75, 2)))
    config = vgg_config()
    stack = read_face_stack(path)
    before = np.stack([stack.faces[sampling.sample_face_rows(stack.timeline, start, 16, 8)]
                       for start in sampling.window_starts(stack.timeline.size, 16 * 8)])
    np.testing.assert_array_equal(data.clip_face_windows(path, config), before)


def test_training_sequences_count_the_same_unit(tmp_path):
    path = write_stack(tmp_path / "clip.h5", 25.0, 50, list(range(50)))
    clip = Clip("clip", "train", "HA", path, "ok", "")
    # 8 timeline frames are 3.3 source frames of a 25-fps clip
    for unit, steps in (("timeline", {3, 4}), ("source", {8})):
        dataset = data.FaceSequences([clip], length=4, gap=8, unit=unit)
        for step in range(5):
            dataset.step = step
            faces, _ = dataset[0]
            assert set(np.diff(faces[:, 0, 0, 0].tolist())) <= steps


def test_the_unit_is_a_result_setting_of_the_vgg_lstm():
    from avemotion.config import result_settings, run_settings

    config = load_config()
    assert result_settings(config, "models.vgg_lstm")["frame_gap_unit"] == "timeline"
    assert "models.vgg_lstm.frame_gap_unit" not in run_settings()
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]["models"]["properties"]["vgg_lstm"]["properties"]
    assert tuple(schema["frame_gap_unit"]["enum"]) == FRAME_GAP_UNITS
    assert load_config(PAPER_YAML)["models"]["vgg_lstm"]["frame_gap_unit"] == "timeline"
    assert "models.vgg_lstm.frame_gap_unit" not in PAPER_CONFIG  # the paper reads either way


def write_fer_usages(path: Path) -> Path:
    pixels = " ".join(["7"] * 48 * 48)
    rows = [(0, "Training"), (3, "Training"), (4, "PublicTest"), (6, "PrivateTest"), (5, "PrivateTest")]
    path.write_text("emotion,pixels,Usage\n" + "".join(f"{emotion},{pixels},{usage}\n" for emotion, usage in rows))
    return path


def test_fer2013_usages_choose_the_rows(tmp_path):
    path = write_fer_usages(tmp_path / "fer2013.csv")
    assert len(data.read_fer2013(path)[1]) == 2  # Training only, the default
    assert len(data.read_fer2013(path, FER2013_USAGES)[1]) == 5
    assert len(data.read_fer2013(path, ("PrivateTest",))[1]) == 2
    with pytest.raises(ValueError, match="Validation"):
        data.read_fer2013(path, ("Validation",))


def test_step_a_trains_on_the_configured_usages(tmp_path):
    path = write_fer_usages(tmp_path / "fer2013.csv")
    for usages, n_images in ((["Training"], 2), (list(FER2013_USAGES), 5)):
        recipe = vgg_lstm_recipe([], vgg_config(fer2013_csv=str(path), fer2013_usages=usages), seed=0)
        assert recipe.stages[0].name == "fer2013" and len(recipe.stages[0].dataset) == n_images


def test_the_paper_config_trains_step_a_on_all_35887_images():
    assert load_config()["models"]["vgg_lstm"]["fer2013_usages"] == ["Training"]
    assert load_config(PAPER_YAML)["models"]["vgg_lstm"]["fer2013_usages"] == list(FER2013_USAGES)
    assert PAPER_CONFIG["models.vgg_lstm.fer2013_usages"][0] == list(FER2013_USAGES)
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]["models"]["properties"]["vgg_lstm"]["properties"]
    assert tuple(schema["fer2013_usages"]["items"]["enum"]) == FER2013_USAGES


def test_docs_state_the_step_c_head_multiplier_of_each_config():
    paper = load_config(PAPER_YAML)["models"]["vgg_lstm"]["sequence_head_lr_multiplier"]
    demo = load_config()["models"]["vgg_lstm"]["sequence_head_lr_multiplier"]
    models_doc = (REPO / "docs" / "models.md").read_text()
    assert f"({paper:g} in the paper config, {demo:g} in the demo" in models_doc
    assert "10x as in the paper" not in " ".join(models_doc.split())


def test_docs_give_both_readings_of_the_frame_gap():
    models_doc = " ".join((REPO / "docs" / "models.md").read_text().split())
    assert "`frame_gap_unit: timeline`" in models_doc and "`frame_gap_unit: source`" in models_doc
    assert "`fer2013_usages`" in models_doc and "35,887" in models_doc
    assert ORGANISER_FACES_KEY in models_doc and "require_pretraining" in models_doc

