"""Predict the emotion of new clips with the trained hybrid network (`avemotion predict`).

Every clip goes through the pipeline's own code, into a temporary folder: the probe
(`media.probe_clip`), the 60-fps timeline and 16 kHz wav (`media.write_timeline`, `extract_audio`,
paper 2.1), face tracks a and b (`faces.extract_face_track` with the config's `faces:` settings,
paper 2.1), the audio features (`audio.write_*_artifact` with the config's `audio:` settings, paper
2.2-2.4); then the trained models (`models.load_trained_model` / `predict_clip_probabilities`, the
very functions training used for `results/predictions/{model}.tsv`) and the decision fusion with the
weights of `results/fusion/weights.json` (paper 3.2). A clip the pipeline would have processed gets
the same numbers as the pipeline's predictions.

A clip that one modality cannot see (no face found, no audio stream, silent or too short audio) is
predicted from the models that can see it, by the pipeline's own rule (`fusion.fuse_probabilities`,
the rule the grid search scored the weights with): the fusion weights are renormalised over those
models; when they all have fusion weight 0 they get equal weights, and the output says so. The
pipeline's fused row for such a clip is the same. A clip no model can see, or that cannot be read,
gets a message and no prediction (the pipeline scores such a clip as a miss); the other clips are
still predicted.
"""
from ..fusion import fuse_available
from .inputs import expand_clip_paths, fusion_weights_in, resolve_config
from .output import format_table, predictions_json
from .prediction import ClipPrediction, ModelPrediction
from .predictor import Predictor, predict_clips

__all__ = ["ClipPrediction", "ModelPrediction", "Predictor", "expand_clip_paths", "format_table",
           "fuse_available", "predict_clips", "predictions_json", "fusion_weights_in", "resolve_config"]
