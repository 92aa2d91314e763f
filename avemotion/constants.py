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

# --- models stage (issue 5) ---
# Section 2.1: VGG-16 [20] layer configuration ("D"): numbers are conv widths, "M" a 2x2 max-pool.
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)
VGG_FC_WIDTH: int = 4096  # fc6 / fc7 of VGG-16 [20]
# Section 2.1 [22]: FER-2013 label order (0 Angry ... 6 Neutral) onto the paper's class codes.
FER2013_LABELS: tuple[str, ...] = ("AN", "DI", "FE", "HA", "SA", "SU", "NE")
# Section 2.4 [24]: BN-Inception (Inception-v2) modules, Ioffe & Szegedy 2015, Fig. 5:
# (#1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3, pool type, pool proj, stride).
# A pool projection of 0 with stride 2 is the paper's "pass through" (max-pool, no projection).
BN_INCEPTION_MODULES: tuple[tuple[str, tuple[int, int, int, int, int, str, int, int]], ...] = (
    ("3a", (64, 64, 64, 64, 96, "avg", 32, 1)),
    ("3b", (64, 64, 96, 64, 96, "avg", 64, 1)),
    ("3c", (0, 128, 160, 64, 96, "max", 0, 2)),
    ("4a", (224, 64, 96, 96, 128, "avg", 128, 1)),
    ("4b", (192, 96, 128, 96, 128, "avg", 128, 1)),
    ("4c", (160, 128, 160, 128, 160, "avg", 128, 1)),
    ("4d", (96, 128, 192, 160, 192, "avg", 128, 1)),
    ("4e", (0, 128, 192, 192, 256, "max", 0, 2)),
    ("5a", (352, 192, 320, 160, 224, "avg", 128, 1)),
    ("5b", (352, 192, 320, 192, 224, "max", 128, 1)),
)
BN_INCEPTION_STEM: tuple[int, int, int] = (64, 64, 192)  # conv1, conv2 reduce, conv2 [24]
