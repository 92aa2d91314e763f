"""Every number taken from the paper, in one place, each with the section it comes from.

Paper: "Audio-video emotion recognition hybrid network", EmotiW 2017
(../shared/paper/hybrid-av-emotion-emotiw2017.txt). Values not in the paper are marked "not paper".
"""
from __future__ import annotations

# Section 3.1 / Tables 1-6: the seven classes, in the paper's table order.
CLASSES: tuple[str, ...] = ("AN", "DI", "FE", "HA", "NE", "SA", "SU")
CLASS_NAMES: dict[str, str] = {
    "AN": "anger",
    "DI": "disgust",
    "FE": "fear",
    "HA": "happiness",
    "NE": "neutral",
    "SA": "sadness",
    "SU": "surprise",
}
N_CLASSES: int = len(CLASSES)
SPLITS: tuple[str, ...] = ("train", "val", "test")

# Section 2.1: video frames are extracted at 60 fps.
TIMELINE_FPS: int = 60
# not paper: 16 kHz mono is the usual rate for openSMILE/pyAudioAnalysis speech features.
AUDIO_SAMPLE_RATE: int = 16000

# Section 2.1: VGG-16 with 7 outputs; last layer ~ N(0, 1e-4), lr x10 for that layer.
VGG_LAST_LAYER_INIT_VARIANCE: float = 1e-4
VGG_LAST_LAYER_LR_MULTIPLIER: float = 10.0
VGG_INPUT_SIZE: int = 224  # VGG-16 [20]
# Section 2.1: layers after fc6 replaced by a one-layer LSTM(128) + FC(7).
VGG_LSTM_HIDDEN: int = 128
VGG_LSTM_SEQUENCE_LENGTH: int = 16
VGG_LSTM_FRAME_GAP: int = 8  # faces taken every 8 frames of the 60-fps timeline
LSTM_INIT_UNIFORM_BOUND: float = 0.01  # LSTM weights ~ U(-0.01, 0.01), biases 0
# Section 2.1 [22]: FER-2013 images are 48x48 grey.
FER2013_IMAGE_SIZE: int = 48

# Section 2.2: openSMILE INTERSPEECH 2010 paralinguistic functionals.
IS10_DIM: int = 1582

# Section 2.3: 100 ms segments, 50 % overlap, 34 pyAudioAnalysis short-term features.
SHORT_TERM_WINDOW_S: float = 0.100
SHORT_TERM_STEP_S: float = 0.050
N_SHORT_TERM_FEATURES: int = 34
MIN_SHORT_TERM_SEQUENCE: int = 16  # copy the last vector 16 - n times when n < 16
AUDIO_LSTM_HIDDEN: int = 512

# Section 2.4: 34 x 34 audio maps cut with 50 % overlap (step 17), at least 8 per clip.
AUDIO_MAP_SIZE: int = 34
AUDIO_MAP_STEP: int = 17
MIN_AUDIO_MAPS: int = 8
INCEPTION_LSTM_HIDDEN: int = 128
INCEPTION_LSTM_SEQUENCE_LENGTH: int = 8
INCEPTION_BASE_LR: float = 0.001
INCEPTION_LR_STEP_ITERATIONS: int = 3000
INCEPTION_LR_GAMMA: float = 0.1
INCEPTION_BATCH_SIZE: int = 16
INCEPTION_WEIGHT_DECAY: float = 0.002
INCEPTION_MAX_ITERATIONS: int = 10000

# Section 3.1: AFEW (EmotiW 2017) clip counts.
AFEW_CLIPS: dict[str, int] = {"train": 773, "val": 383, "test": 653}

# Section 3.2 / Tables 1-6: reported results, for the report's side-by-side comparison.
PAPER_VAL_ACCURACY: dict[str, float] = {
    "vgg_lstm_a": 49.61,
    "vgg_lstm_b": 46.74,
    "audio_svm": 35.51,
    "audio_lstm": 26.63,
    "inception_lstm": 26.63,
    "fusion": 55.61,
}
PAPER_VAL_UAR: dict[str, float] = {
    "vgg_lstm_a": 46.66,
    "vgg_lstm_b": 43.17,
    "audio_svm": 31.97,
    "audio_lstm": 23.27,
    "inception_lstm": 23.14,
}
PAPER_TEST_ACCURACY_FUSION: float = 51.15
PAPER_TEST_UAR_FUSION: float = 41.21
CHALLENGE_BASELINE_VAL_ACCURACY: float = 38.81

# Model names, as used in rules, artifact paths and config (see README "Artifacts").
FACE_TRACKS: tuple[str, ...] = ("a", "b")
MODELS: tuple[str, ...] = ("vgg_lstm_a", "vgg_lstm_b", "audio_svm", "audio_lstm", "inception_lstm")
FUSION: str = "fusion"
