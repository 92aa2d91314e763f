"""Result settings and run settings (schemas/config.schema.yaml, `setting:`): every config key is one or
the other; a run setting never reaches a rule's params, so changing it on a finished run plans nothing,
and a result setting reruns the jobs that read it."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from avemotion.config import SCHEMA, config_value, load_config, result_settings, run_settings, setting_classes
from conftest import DemoRun, run_snakemake

# The run settings the docs list (docs/configuration.md): a new one is added here and there.
RUN_SETTINGS = (
    "faces.queue_size",
    "models.threads",
    "models.training.num_workers",
    "models.training.checkpoint_every",
    "models.vgg_lstm.require_pretraining",
)


def leaf_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, child in schema.get("properties", {}).items():
        keys += leaf_keys(child, f"{prefix}{key}.") if "properties" in child else [f"{prefix}{key}"]
    return keys


def test_every_config_key_has_a_class():
    classes = setting_classes()
    unclassified = [key for key in leaf_keys(yaml.safe_load(SCHEMA.read_text())) if classes[key] is None]
    assert not unclassified, f"config keys without `setting: result | run` in the schema: {unclassified}"


def test_a_key_without_a_class_is_found(tmp_path: Path):
    schema = yaml.safe_load(SCHEMA.read_text())
    schema["properties"]["newblock"] = {"type": "object", "properties": {"knob": {"type": "integer"}}}
    edited = tmp_path / "schema.yaml"
    edited.write_text(yaml.safe_dump(schema))
    assert setting_classes(edited)["newblock.knob"] is None


def test_the_run_settings_are_the_documented_ones():
    assert set(run_settings()) == set(RUN_SETTINGS)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    assert all(f"`{key}`" in docs for key in RUN_SETTINGS)


def test_result_settings_drop_the_run_settings_of_a_block():
    config = load_config()
    training = result_settings(config, "models.training")
    assert set(training) == set(config["models"]["training"]) - {"num_workers", "checkpoint_every"}
    vgg = result_settings(config, "models.vgg_lstm")
    assert "require_pretraining" not in vgg and vgg["lstm_hidden"] == config["models"]["vgg_lstm"]["lstm_hidden"]


def changed_value(value: object) -> object:
    """Another valid value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    raise AssertionError(f"no rule to change {value!r}")


def with_setting(config: dict, dotted_key: str, value: object) -> dict:
    edited = copy.deepcopy(config)
    *blocks, key = dotted_key.split(".")
    target = edited
    for block in blocks:
        target = target[block]
    target[key] = value
    return edited


# require_pretraining: true on the demo (no VGG-Face file) stops the run before any job, by design;
# that it is no rule's param is checked on the params themselves
# (test_result_settings_drop_the_run_settings_of_a_block).
DRY_RUN_EDITS = tuple(key for key in RUN_SETTINGS if key != "models.vgg_lstm.require_pretraining")


@pytest.mark.slow
@pytest.mark.parametrize("key", DRY_RUN_EDITS)
def test_a_run_setting_changed_on_a_finished_run_plans_nothing(key: str, demo_run: DemoRun, tmp_path: Path):
    edited = with_setting(demo_run.config, key, changed_value(config_value(demo_run.config, key)))
    configfile = tmp_path / "edited.yaml"
    configfile.write_text(yaml.safe_dump(edited, sort_keys=False))
    result = run_snakemake(demo_run.workdir, "-n", "--cores", "1", configfile=configfile)
    assert "Nothing to be done" in result.stdout + result.stderr, (
        f"changing the run setting {key} plans jobs:\n{result.stdout[-3000:]}")


def test_the_training_resume_fingerprint_holds_the_result_settings_of_models_training():
    from avemotion.models.training import TrainSettings

    config = load_config()
    settings = TrainSettings.from_config(config["models"]["training"])
    assert set(settings.result_settings) == set(result_settings(config, "models.training"))


# result settings and the rules each reruns on a finished run (docs/configuration.md, "What each edit
# reruns"); the other rows are tests/test_reruns.py's
AFTER_THE_MODELS = {"fusion", "submission", "report", "bundle"}
RESULT_EDITS = {
    "models.training.seed": {"vgg_lstm", "audio_svm", "audio_lstm", "inception_lstm"} | AFTER_THE_MODELS,
    "models.training.device": {"vgg_lstm", "audio_lstm", "inception_lstm"} | AFTER_THE_MODELS,
    # a dlib setting on the MediaPipe track: no job reads it
    "faces.track_a.min_score": set(),
}
EDITED_VALUES = {"models.training.device": "cuda", "faces.track_a.min_score": 1.5}


@pytest.mark.slow
@pytest.mark.parametrize("key", RESULT_EDITS)
def test_a_result_setting_reruns_the_documented_jobs(key: str, demo_run: DemoRun, tmp_path: Path):
    from dag_plan import planned_jobs, rule_counts

    assert demo_run.config["faces"]["track_a"]["method"] == "mediapipe" and demo_run.config["models"]["training"][
        "device"] != "cuda", "the edits below assume the demo's track A and a CPU run"
    value = EDITED_VALUES.get(key) or changed_value(config_value(demo_run.config, key))
    configfile = tmp_path / "edited.yaml"
    configfile.write_text(yaml.safe_dump(with_setting(demo_run.config, key, value), sort_keys=False))
    result = run_snakemake(demo_run.workdir, "-n", "--cores", "1", configfile=configfile)
    output = result.stdout + result.stderr
    if not RESULT_EDITS[key]:
        assert "Nothing to be done" in output, output[-3000:]
        return
    assert set(rule_counts(planned_jobs(output))) == RESULT_EDITS[key], output[-3000:]
