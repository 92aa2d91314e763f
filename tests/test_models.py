"""Unit tests of the models stage (paper 2.1-2.4) on small synthetic inputs in the real layouts."""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
import yaml
from scipy.stats import binom

from avemotion.artifacts import read_predictions
from avemotion.constants import CLASSES, N_SHORT_TERM_FEATURES, VGG16_CFG
from avemotion.models import load_trained_model, train_audio_lstm, train_audio_svm, train_inception_lstm, train_vgg_lstm
import synthetic_corpus as synthetic
from avemotion.models import data, sampling
from avemotion.models.heads import AudioLSTM
from avemotion.models.inception import BNInception, InceptionLSTM
from avemotion.models.svm import cv_folds
from avemotion.models import training
from avemotion.models.training import learning_rate
from avemotion.models.vgg import VGG16, VGGLSTM, vgg16_from_config, vgg_param_groups
from avemotion.models.vgg_face import VGG_FACE_KEYS, load_vgg_face_weights
from conftest import model_outputs

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def models_config(overrides: dict | None = None) -> dict:
    block = yaml.safe_load((REPO / "config.yaml").read_text())["models"]
    for name, values in (overrides or {}).items():
        block[name].update(values)
    return block


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> synthetic.SyntheticCorpus:
    return synthetic.write_corpus(tmp_path_factory.mktemp("corpus"), per_class={"train": 2, "val": 1, "test": 1},
                                  face_size=32, n_timeline=100, quarantine=("val_HA_00",))


def test_vgg_and_vgg_lstm_shapes():
    vgg = VGG16(input_size=64, width_multiplier=0.125)
    assert vgg(torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8)).shape == (2, 7)
    model = VGGLSTM(vgg, hidden=128)
    assert model(torch.randint(0, 255, (2, 16, 3, 32, 32), dtype=torch.uint8)).shape == (2, 7)
    assert model.head.lstm.hidden_size == 128


def test_inception_and_audio_lstm_shapes():
    inception = BNInception(width_multiplier=0.125)
    assert inception(torch.randn(3, 1, 34, 34)).shape == (3, 7)
    assert InceptionLSTM(inception, 128)(torch.randn(2, 8, 34, 34)).shape == (2, 7)
    audio = AudioLSTM(N_SHORT_TERM_FEATURES, 512)
    lengths = torch.tensor([20, 16])
    assert audio(torch.randn(2, 20, 34), lengths).shape == (2, 7)


def test_last_layer_init_is_gaussian_variance_1e_4():
    torch.manual_seed(0)
    fc8 = VGG16(input_size=32, width_multiplier=0.5).fc8
    weights = fc8.weight.detach().numpy().ravel()
    assert weights.size == 7 * 2048
    # 14336 draws of N(0, 1e-4): the mean's standard error is 8.4e-5, the variance's 1.2 %; six and
    # four of them
    assert abs(weights.mean()) < 5e-4
    assert weights.var() == pytest.approx(1e-4, rel=0.05)
    assert torch.count_nonzero(fc8.bias) == 0


def test_lstm_init_uniform_001_biases_zero():
    lstm = VGGLSTM(VGG16(input_size=32, width_multiplier=0.125), 128).head.lstm
    for name, parameter in lstm.named_parameters():
        values = parameter.detach().numpy()
        if name.startswith("weight"):
            assert values.min() >= -0.01 and values.max() <= 0.01
            # spread over the whole interval: of 65536 or more draws none within 1 % of an end has
            # probability 0.995^65536
            assert values.max() > 0.0099 and values.min() < -0.0099
            # U(-0.01, 0.01)'s standard deviation to 5 %, many standard errors for this many draws
            assert abs(values.std() - 0.02 / np.sqrt(12)) < 3e-4
        else:
            assert not values.any()


def test_last_layer_learns_at_ten_times_the_base_rate():
    vgg = VGG16(input_size=32, width_multiplier=0.125)
    groups = vgg_param_groups(vgg, 0.001, vgg.fc8)
    optimizer = torch.optim.SGD(groups, lr=0.001)
    by_name = {g["name"]: g for g in optimizer.param_groups}
    assert by_name["last_layer"]["lr"] == pytest.approx(10 * by_name["base"]["lr"])
    assert {id(p) for p in by_name["last_layer"]["params"]} == {id(vgg.fc8.weight), id(vgg.fc8.bias)}
    all_ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(all_ids) == sorted(id(p) for p in vgg.parameters())  # every parameter, once


def test_step_decay_schedule():
    assert learning_rate(0.001, 0, 3000, 0.1) == pytest.approx(0.001)
    assert learning_rate(0.001, 2999, 3000, 0.1) == pytest.approx(0.001)
    assert learning_rate(0.001, 3000, 3000, 0.1) == pytest.approx(0.0001)
    assert learning_rate(0.001, 9999, 3000, 0.1) == pytest.approx(1e-6)
    assert learning_rate(0.01, 500, 0, 0.1) == 0.01


def test_sixteen_faces_every_eighth_frame():
    timeline = np.arange(200)  # a face on every frame, row = frame
    rows = sampling.sample_face_rows(timeline, start=5, length=16, gap=8)
    assert rows.tolist() == [5 + 8 * i for i in range(16)]


def test_short_clip_repeats_its_last_face():
    timeline = np.arange(50)
    rows = sampling.sample_face_rows(timeline, start=0, length=16, gap=8)
    assert rows.tolist() == [0, 8, 16, 24, 32, 40, 48] + [49] * 9


def test_frames_without_face_take_the_nearest_face_in_time():
    timeline = np.array([-1, -1, 3, -1, -1, -1, 7, -1, -1])
    assert sampling.nearest_face_rows(timeline).tolist() == [3, 3, 3, 3, 3, 7, 7, 7, 7]  # tie -> earlier
    rows = sampling.sample_face_rows(timeline, start=0, length=4, gap=4)
    assert rows.tolist() == [3, 3, 7, 7]
    with pytest.raises(ValueError):
        sampling.nearest_face_rows(np.array([-1, -1]))


def test_evaluation_windows_cover_the_clip():
    assert sampling.window_starts(100, 128) == [0]
    assert sampling.window_starts(256, 128) == [0, 128]
    assert sampling.window_starts(300, 128) == [0, 128, 172]


def test_face_augmentation_moves_every_face_of_a_sequence_alike():
    faces = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    augment = data.FaceAugmentation(flip=True, max_shift=0.1)
    outcomes = set()
    for seed in range(40):
        moved = augment(faces, np.random.default_rng(seed))
        assert moved.shape == faces.shape and moved.dtype == np.uint8
        # find the one (flip, dy, dx) that explains face 0, then check it explains every face
        match = [(flip, dy, dx) for flip in (False, True) for dy in range(-3, 4) for dx in range(-3, 4)
                 if np.array_equal(moved[0], data.shift_edge(faces[0, :, ::-1] if flip else faces[0], dy, dx))]
        assert len(match) == 1, seed
        flip, dy, dx = match[0]
        expected = data.shift_edge(faces[:, :, ::-1] if flip else faces, dy, dx)
        assert np.array_equal(moved, expected)
        outcomes.add(match[0])
    assert {flip for flip, _, _ in outcomes} == {False, True}
    # 40 draws of 2 x 7 x 7 equally likely (flip, dy, dx) give about 33 distinct: not stuck on a few
    assert len(outcomes) > 10


def test_face_augmentation_off_leaves_faces_unchanged():
    faces = np.random.default_rng(1).integers(0, 256, (4, 24, 24, 3), dtype=np.uint8)
    assert np.array_equal(data.FaceAugmentation()(faces, np.random.default_rng(0)), faces)
    assert data.FaceAugmentation.from_config({"augment_flip": False, "augment_max_shift": 0.0}) == data.FaceAugmentation()


def test_shift_edge_repeats_the_border():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    shifted = data.shift_edge(image, 1, -1)[..., 0]
    assert shifted.tolist() == [[1, 2, 3, 3], [1, 2, 3, 3], [5, 6, 7, 7], [9, 10, 11, 11]]


def test_fer2013_csv_maps_labels(tmp_path):
    path = tmp_path / "fer2013.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for emotion in range(7):
            writer.writerow([emotion, " ".join(str((emotion * 7 + i) % 256) for i in range(48 * 48)), "Training"])
        writer.writerow([3, " ".join(["0"] * 2304), "PublicTest"])
    images, targets = data.read_fer2013(path)
    assert images.shape == (7, 48, 48) and images.dtype == np.uint8
    # FER order: 0 Angry 1 Disgust 2 Fear 3 Happy 4 Sad 5 Surprise 6 Neutral
    assert [CLASSES[t] for t in targets] == ["AN", "DI", "FE", "HA", "SA", "SU", "NE"]
    assert images[1, 0, 1] == 8


def test_vgg_face_weights_load_from_a_state_dict(tmp_path):
    source = VGG16(input_size=64, width_multiplier=0.125)
    path = tmp_path / "vgg_face.pt"
    torch.save({key: value for key, value in source.state_dict().items() if key in VGG_FACE_KEYS}, path)
    target = VGG16(input_size=64, width_multiplier=0.125)
    fc8_before = target.fc8.weight.clone()
    load_vgg_face_weights(target, path)
    for key in VGG_FACE_KEYS:
        assert torch.equal(target.state_dict()[key], source.state_dict()[key])
    assert torch.equal(target.fc8.weight, fc8_before)  # the 7-way layer keeps its own init
    assert len([k for k in VGG_FACE_KEYS if k.endswith("weight")]) == 15  # 13 convs + fc6 + fc7
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="lacks"):
        load_vgg_face_weights(target, tmp_path / "bad.pt")


def test_svm_folds_adapt_to_tiny_classes():
    assert cv_folds(np.array([0, 0, 1, 1, 1]), 5) == 2
    assert cv_folds(np.repeat(np.arange(7), 10), 5) == 5
    assert cv_folds(np.array([0, 1, 1]), 5) == 0


def test_paper_config_builds_paper_size_graphs():
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())["models"]
    vgg_config, inception_config = paper["vgg_lstm"], paper["inception_lstm"]
    vgg = VGG16(vgg_config["input_size"], vgg_config["width_multiplier"])
    assert sum(p.numel() for p in vgg.parameters()) > 134_000_000  # VGG-16 with a 7-way fc8
    assert vgg.fc6.in_features == 512 * 7 * 7 and vgg.fc6.out_features == 4096
    assert sum(isinstance(m, torch.nn.Conv2d) for m in vgg.features) == 13
    assert list(VGG16_CFG).count("M") == 5
    model = VGGLSTM(vgg, vgg_config["lstm_hidden"]).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 2, 3, 224, 224)).shape == (1, 7)
    assert model.head.lstm.input_size == 4096 and model.head.lstm.hidden_size == 128
    inception = BNInception(inception_config["width_multiplier"])
    assert inception.feature_dim == 1024  # BN-Inception's global pool width
    assert [m.out_channels for m in inception.inception] == [256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024]
    sequence_model = InceptionLSTM(inception, inception_config["lstm_hidden"]).eval()
    with torch.no_grad():
        assert sequence_model(torch.zeros(1, inception_config["sequence_length"], 34, 34)).shape == (1, 7)
    assert AudioLSTM(34, paper["audio_lstm"]["hidden"]).head.lstm.hidden_size == 512
    # paper 2.4: the Inception-LSTM's own solver; the single-map stage's is Inception-v2's [24]
    assert inception_config["lr"] == 0.001 and inception_config["lr_step_iterations"] == 3000
    assert inception_config["sequence_batch_size"] == 16 and inception_config["weight_decay"] == 0.002
    assert inception_config["sequence_iterations"] == 10000
    assert inception_config["map_solver"]["optimizer"] == "rmsprop" and inception_config["batch_size"] == 32


TINY_VGG = {"width_multiplier": 0.125, "input_size": 32, "frame_iterations": 4, "sequence_iterations": 4,
            "frame_batch_size": 8, "sequence_batch_size": 2}
TINY_INCEPTION = {"width_multiplier": 0.0625, "map_iterations": 3, "sequence_iterations": 3, "batch_size": 4,
                  "sequence_batch_size": 2, "lr_step_iterations": 2}


def read_log(path: Path) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def assert_same_run(left: Path, right: Path, name: str) -> None:
    a = torch.load(left / "models" / name / "checkpoint.pt", weights_only=True)["state_dict"]
    b = torch.load(right / "models" / name / "checkpoint.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert read_log(left / "models" / name / "train_log.csv") == read_log(right / "models" / name / "train_log.csv")
    assert (left / "predictions" / f"{name}.tsv").read_text() == (right / "predictions" / f"{name}.tsv").read_text()


@pytest.fixture
def steps_run(monkeypatch) -> list[str]:
    """The stage of every optimisation step run from now on, in order (a spy on `train_step`).
    Training is deterministic, so a resumed run that started over would end with the same weights:
    only counting the steps it ran shows that it continued from the checkpoint."""
    calls: list[str] = []
    real_train_step = training.train_step

    def spy(stage, *args, **kwargs):
        calls.append(stage.name)
        return real_train_step(stage, *args, **kwargs)

    monkeypatch.setattr(training, "train_step", spy)
    return calls


def steps_before_and_after(stages: dict[str, int], done: int) -> tuple[list[str], list[str]]:
    """The steps (by stage) of a run of `stages` before and after its first `done` steps."""
    before, after = [], []
    for name, iterations in stages.items():
        ran = min(iterations, done)
        done -= ran
        before += [name] * ran
        after += [name] * (iterations - ran)
    return before, after


def write_fer_csv(path: Path, n: int = 14) -> Path:
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i in range(n):
            writer.writerow([i % 7, " ".join(map(str, rng.integers(0, 256, 48 * 48))), "Training"])
    return path


# stop inside step (a) FER-2013, inside (b) faces, inside (c) sequences after the stage boundaries
@pytest.mark.parametrize("stop_after", [2, 5, 9])
def test_vgg_lstm_resume_equals_uninterrupted(corpus, tmp_path, stop_after, steps_run):
    fer = write_fer_csv(tmp_path / "fer2013.csv")
    config = models_config({"vgg_lstm": dict(TINY_VGG, fer2013_csv=str(fer), fer_iterations=3)})
    args = (corpus.manifest, corpus.faces)
    train_vgg_lstm(*args, model_outputs(tmp_path / "full", "vgg_lstm_a"), config["vgg_lstm"], config["training"])
    before, after = steps_before_and_after({"fer2013": 3, "frames": 4, "sequences": 4}, stop_after)
    resumed = tmp_path / "resumed"
    steps_run.clear()
    with pytest.raises(RuntimeError):
        train_vgg_lstm(*args, model_outputs(resumed, "vgg_lstm_a"), config["vgg_lstm"], config["training"],
                       stop_after_steps=stop_after)
    assert steps_run == before
    assert (resumed / "models" / "vgg_lstm_a" / "resume.pt").exists()
    assert not (resumed / "models" / "vgg_lstm_a" / "checkpoint.pt").exists()
    steps_run.clear()
    train_vgg_lstm(*args, model_outputs(resumed, "vgg_lstm_a"), config["vgg_lstm"], config["training"])
    assert steps_run == after  # the steps after the checkpoint ran, the ones before it did not
    assert not (resumed / "models" / "vgg_lstm_a" / "resume.pt").exists()
    assert_same_run(tmp_path / "full", resumed, "vgg_lstm_a")
    stages = [row["stage"] for row in read_log(resumed / "models" / "vgg_lstm_a" / "train_log.csv")]
    assert stages == ["fer2013"] * 3 + ["frames"] * 4 + ["sequences"] * 4


def test_inception_lstm_resume_equals_uninterrupted(corpus, tmp_path, steps_run):
    config = models_config({"inception_lstm": TINY_INCEPTION})
    args = (corpus.manifest, corpus.maps)
    train_inception_lstm(*args, model_outputs(tmp_path / "full", "inception_lstm"), config["inception_lstm"], config["training"])
    steps_run.clear()
    with pytest.raises(RuntimeError):
        train_inception_lstm(*args, model_outputs(tmp_path / "resumed", "inception_lstm"), config["inception_lstm"],
                             config["training"], stop_after_steps=4)
    assert steps_run == ["maps"] * 3 + ["sequences"]
    steps_run.clear()
    train_inception_lstm(*args, model_outputs(tmp_path / "resumed", "inception_lstm"), config["inception_lstm"],
                         config["training"])
    assert steps_run == ["sequences"] * 2  # resumed at sequence step 1: the map stage did not run again
    assert_same_run(tmp_path / "full", tmp_path / "resumed", "inception_lstm")
    stages = [row["stage"] for row in read_log(tmp_path / "full" / "models" / "inception_lstm" / "train_log.csv")]
    assert stages == ["maps"] * 3 + ["sequences"] * 3


def test_resume_file_from_other_settings_is_ignored(corpus, tmp_path, steps_run):
    config = models_config({"audio_lstm": {"iterations": 4, "hidden": 16}})
    args = (corpus.manifest, corpus.shortterm)
    with pytest.raises(RuntimeError):
        train_audio_lstm(*args, model_outputs(tmp_path, "audio_lstm"), config["audio_lstm"], config["training"],
                         stop_after_steps=2)
    changed = copy.deepcopy(config)
    changed["audio_lstm"]["lr"] = 0.01
    steps_run.clear()
    train_audio_lstm(*args, model_outputs(tmp_path, "audio_lstm"), changed["audio_lstm"], changed["training"])
    assert steps_run == ["sequences"] * 4  # all four steps ran again
    steps = [int(row["step"]) for row in read_log(tmp_path / "models" / "audio_lstm" / "train_log.csv")]
    assert steps == [0, 1, 2, 3]  # restarted from scratch, not continued


def test_outputs_and_quarantined_clips(corpus, tmp_path):
    config = models_config({"audio_lstm": {"iterations": 30, "hidden": 32}})
    metrics = train_audio_lstm(corpus.manifest, corpus.shortterm, model_outputs(tmp_path, "audio_lstm"),
                               config["audio_lstm"], config["training"])
    rows = read_predictions(tmp_path / "predictions" / "audio_lstm.tsv")
    assert {r["split"] for r in rows} == {"val", "test"} and len(rows) == 14
    quarantined = [r for r in rows if r["status"] == "quarantined"]
    assert [r["clip_id"] for r in quarantined] == ["val_HA_00"]
    assert quarantined[0]["probs"] is None and "val_HA_00" in quarantined[0]["reason"]  # no class: a miss
    for row in rows:
        if row["status"] == "ok":
            # float32 softmax over 7 classes (eps 1.2e-7 each) and the table's 8 decimals
            assert row["probs"].sum() == pytest.approx(1.0, abs=1e-6)
    saved = json.loads((tmp_path / "metrics" / "audio_lstm.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["val"]["n"] == 7 and saved["val"]["n_quarantined"] == 1 and saved["val"]["n_no_prediction"] == 1
    assert saved["val"]["confusion"][CLASSES.index("HA")][-1] == 1  # val_HA_00 in the no-prediction column
    assert matplotlib.image.imread(tmp_path / "models" / "audio_lstm" / "curve.png").ndim == 3  # a readable image


def test_missing_audio_artifact_is_quarantined_not_a_crash(corpus, tmp_path):
    files = {clip_id: path for clip_id, path in corpus.is10.items() if clip_id != "test_SU_00"}
    outputs = model_outputs(tmp_path, "audio_svm")
    train_audio_svm(corpus.manifest, files, outputs, models_config()["audio_svm"], models_config()["training"])
    rows = {r["clip_id"]: r for r in read_predictions(outputs.predictions)}
    assert rows["test_SU_00"]["status"] == "quarantined" and "no audio is10 artifact" in rows["test_SU_00"]["reason"]
    test = json.loads(outputs.metrics.read_text())["test"]
    hits = round(test["accuracy"] * test["n"])
    assert binom.sf(hits - 1, test["n"], 1 / len(CLASSES)) < 0.01, test  # above chance at the 1 % level


def test_refit_trains_on_train_and_val_and_predicts_test_only(corpus, tmp_path):
    outputs = model_outputs(tmp_path / "refit", "audio_svm")
    metrics = train_audio_svm(corpus.manifest, corpus.is10, outputs, models_config()["audio_svm"],
                              models_config()["training"], train_splits=("train", "val"))
    rows = read_predictions(outputs.predictions)
    assert {r["split"] for r in rows} == {"test"} and len(rows) == 7
    assert json.loads(outputs.metrics.read_text()) == json.loads(json.dumps(metrics))
    assert list(metrics) == ["test"]
    assert load_trained_model(outputs.checkpoint).architecture == "audio_svm"
    assert torch.load(outputs.checkpoint, weights_only=True)["train_splits"] == ["train", "val"]


def test_vgg16_batch_norm_variant_for_training_from_scratch(tmp_path):
    config = {"input_size": 32, "width_multiplier": 0.125, "batch_norm": True}
    vgg = vgg16_from_config(config)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in vgg.features) == 13
    assert vgg(torch.zeros(2, 3, 32, 32)).shape == (2, 7)
    plain = vgg16_from_config({**config, "batch_norm": False})
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.features)
    torch.save(plain.state_dict(), tmp_path / "vgg_face.pt")
    with pytest.raises(ValueError, match="batch_norm: false"):
        load_vgg_face_weights(vgg, tmp_path / "vgg_face.pt")


def test_vgg16_standardized_input_ignores_colour_and_brightness():
    vgg = vgg16_from_config({"input_size": 32, "width_multiplier": 0.125, "input_normalization": "standardize"})
    faces = torch.rand(2, 3, 32, 32) * 255
    darker_and_tinted = faces * 0.5 + torch.tensor([40.0, 0.0, 80.0]).view(1, 3, 1, 1)
    # z-scores: a thousandth of a standard deviation is float32 rounding, not colour or brightness
    assert torch.allclose(vgg.preprocess(faces), vgg.preprocess(darker_and_tinted), atol=1e-3)
    assert not torch.allclose(vgg16_from_config({"input_size": 32, "width_multiplier": 0.125}).preprocess(faces),
                              vgg16_from_config({"input_size": 32, "width_multiplier": 0.125}).preprocess(faces * 0.5))
    with pytest.raises(ValueError, match="input_normalization"):
        vgg16_from_config({"input_size": 32, "width_multiplier": 0.125, "input_normalization": "zca"})
