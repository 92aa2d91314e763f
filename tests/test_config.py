import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from avemotion.config import load_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_default_config_is_valid():
    validate(default_config(), schema=SCHEMA)


@pytest.mark.parametrize("edit,message", [
    (lambda c: c.update(bogus=1), "'bogus' was unexpected"),
    (lambda c: c["dataset"].update(kind="imagenet"), "'imagenet' is not one of"),
    (lambda c: c["probe"].update(require_audio="yes"), "'yes' is not of type 'boolean'"),
    (lambda c: c["demo"]["clips_per_class"].update(train=0), "0 is less than the minimum of 1"),
    (lambda c: c["media"].pop("timeline_fps"), "'timeline_fps' is a required property"),
    (lambda c: c["dataset"].update(ravdess_calm="keep"), "'keep' is not one of"),
])
def test_bad_config_is_rejected_with_a_clear_message(edit, message):
    config = copy.deepcopy(default_config())
    edit(config)
    with pytest.raises(WorkflowError, match=message):
        validate(config, schema=SCHEMA)


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")) + [REPO / "tests" / "tiny_config.yaml"],
                         ids=lambda p: p.name)
def test_every_config_file_shipped_is_valid(path):
    load_config(path)  # merged over config.yaml as --configfile does, then validated
