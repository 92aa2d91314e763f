"""A trained hybrid network as one file (`results/bundle/model.zip`) that another lab can run safely.

The zip holds only arrays (`.npy`, read with `allow_pickle=False`), JSON and Markdown:

- `manifest.json`: the format and its version, the avemotion and library versions that wrote it,
  and the sha256 of every other member;
- `config.json`: the settings that decide how a clip becomes model input (`media`, `audio`: result
  settings; `faces`: each track's settings as its faces jobs get them), the training dataset and its
  splits, the fusion models and weights;
- `metrics.json`: per model and fused, val/test metrics as the run wrote them;
- `models/<model>/model.json` and `models/<model>/arrays/<path>.npy`: each fused model as
  `models.save_trained_model` stores it (architecture, config, state_dict or the SVM's fitted
  arrays, standardisation statistics), split into its plain values and its arrays;
- `MODEL_CARD.md`: data, metrics with intervals, settings that differ from the paper, intended use
  and limits.

Reading checks everything before it uses anything: no member outside the manifest and none missing,
every checksum, and every member's content (a `.npy` is a NumPy array file without objects, a
`.json` parses): a pickle, under any name, is refused with the member's name. Members are written in
a fixed order with fixed timestamps, so the same run gives the same bytes.
"""
from .card import model_card
from .read import read_bundle
from .spec import FORMAT_VERSION, Bundle, BundleError
from .write import BundleInputs, write_bundle, write_bundle_of_run

__all__ = ["FORMAT_VERSION", "Bundle", "BundleError", "BundleInputs", "model_card", "read_bundle", "write_bundle",
           "write_bundle_of_run"]
