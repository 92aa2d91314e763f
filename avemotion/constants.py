"""Every number taken from the paper, in one place, each with the section it comes from.

Paper: "Audio-video emotion recognition hybrid network", EmotiW 2017 audio-video sub-challenge.
Values not in the paper are marked "not paper". `PAPER_CONFIG` at the end maps
every paper value onto the config key that sets it (configs/paper.yaml is checked against it, and
the report lists where a run's config differs).
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
# EmotiW submission (the organisers' "Submitting Results" page, 2014-2019): one `<clip id>.txt` per
# test clip holding one of these emotion names, all zipped.
EMOTIW_EMOTIONS: dict[str, str] = {
    "AN": "Angry",
    "DI": "Disgust",
    "FE": "Fear",
    "HA": "Happy",
    "NE": "Neutral",
    "SA": "Sad",
    "SU": "Surprise",
}
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
VGG_LSTM_FRAME_GAP: int = 8  # "face images extracted at every 8 frames of the original video sequence"
# Not paper: the two units "every 8 frames" can count (models.vgg_lstm.frame_gap_unit; docs/models.md):
# the frames of the 60-fps timeline, or the clip's own (source) frames.
FRAME_GAP_UNITS: tuple[str, ...] = ("timeline", "source")
LSTM_INIT_UNIFORM_BOUND: float = 0.01  # LSTM weights ~ U(-0.01, 0.01), biases 0
# Section 2.1 [22]: FER-2013 images are 48x48 grey; "the FER-2013 database contains 35887 images".
FER2013_IMAGE_SIZE: int = 48
FER2013_N_IMAGES: int = 35887
# not paper: the `Usage` values of fer2013.csv (28,709 Training, 3,589 PublicTest, 3,589 PrivateTest:
# together the paper's 35,887).
FER2013_USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
# Section 2.1 [21]: VGG-Face was trained on 2.6M images of 2.6K celebrities and public figures.
VGG_FACE_TRAINING_IMAGES: int = 2_600_000
VGG_FACE_IDENTITIES: int = 2_600

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
# Section 2.4, the Inception(v2)-LSTM over sequences of 8 maps: lr 0.001 divided by 10 every 3000
# iterations, batch 16, weight decay 0.002, 10000 iterations.
INCEPTION_LSTM_HIDDEN: int = 128
INCEPTION_LSTM_SEQUENCE_LENGTH: int = 8
INCEPTION_BASE_LR: float = 0.001
INCEPTION_LR_STEP_ITERATIONS: int = 3000
INCEPTION_LR_GAMMA: float = 0.1
INCEPTION_BATCH_SIZE: int = 16
INCEPTION_WEIGHT_DECAY: float = 0.002
INCEPTION_MAX_ITERATIONS: int = 10000
# Section 2.4: the single-map stage uses "the training parameters ... of Inception-v2 on ImageNet"
# [24], [25]. [24] (Szegedy et al., "Rethinking the Inception architecture", section 8 "Training
# methodology"): RMSProp with decay 0.9 and epsilon 1.0, learning rate 0.045 decayed every two epochs
# by an exponential rate of 0.94, gradient clipping at 2.0, batch size 32. [24] states no weight decay
# and no epoch count for this schedule: those stay "not paper" in configs/paper.yaml.
INCEPTION_V2_IMAGENET_OPTIMIZER: str = "rmsprop"
INCEPTION_V2_IMAGENET_RMSPROP_DECAY: float = 0.9
INCEPTION_V2_IMAGENET_RMSPROP_EPSILON: float = 1.0
INCEPTION_V2_IMAGENET_LR: float = 0.045
INCEPTION_V2_IMAGENET_LR_DECAY_EPOCHS: float = 2.0
INCEPTION_V2_IMAGENET_LR_DECAY: float = 0.94
INCEPTION_V2_IMAGENET_CLIP_GRADIENT: float = 2.0
INCEPTION_V2_IMAGENET_BATCH_SIZE: int = 32

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
PAPER_TEST_SUBMISSION: int = 6  # Table 6 shows the test results of the team's submission 6
CHALLENGE_BASELINE_VAL_ACCURACY: float = 38.81
# Section 3.2: the two VGG-LSTMs (tracks A and B) combined, validation accuracy; and the 2016
# sub-challenge winner's accuracy [6] that the best VGG-LSTM (49.61 %) is compared with.
PAPER_VAL_ACCURACY_TWO_VGG_LSTMS: float = 51.02
EMOTIW2016_WINNER_VAL_ACCURACY: float = 45.43
# Section 3.1: AFEW in EmotiW 2017 holds 773 training, 383 validation and 653 test clips.
AFEW_SPLIT_SIZES: dict[str, int] = {"train": 773, "val": 383, "test": 653}

# Model names, as used in rules, artifact paths and config (see docs/artifacts.md).
FACE_TRACKS: tuple[str, ...] = ("a", "b")
MODELS: tuple[str, ...] = ("vgg_lstm_a", "vgg_lstm_b", "audio_svm", "audio_lstm", "inception_lstm")
FUSION: str = "fusion"

# Section 3.2, Tables 1-5 (validation set) and Table 6 (fused network, test set): confusion matrices
# in percent, rows = true class, columns = predicted class, both in CLASSES order.
PAPER_CONFUSION_PERCENT: dict[str, tuple[tuple[float, ...], ...]] = {
    "vgg_lstm_a": (  # Table 1
        (53.12, 6.25, 7.81, 0, 17.19, 3.12, 12.50),
        (17.50, 27.50, 7.50, 2.50, 25.00, 15.00, 5.00),
        (21.74, 4.35, 23.91, 13.04, 6.52, 17.39, 13.04),
        (7.94, 1.59, 0, 84.13, 0, 4.76, 1.59),
        (11.11, 11.11, 7.94, 6.35, 53.97, 6.35, 3.17),
        (8.20, 4.92, 1.64, 6.56, 22.95, 55.74, 0),
        (21.74, 6.52, 17.39, 4.35, 17.39, 4.35, 28.26),
    ),
    "vgg_lstm_b": (  # Table 2
        (64.06, 1.56, 7.81, 1.56, 12.50, 6.25, 6.25),
        (22.50, 15.00, 5.00, 10.00, 25.00, 20.00, 2.50),
        (32.61, 8.70, 26.09, 4.35, 13.04, 8.70, 6.52),
        (9.52, 3.17, 0, 73.02, 6.35, 6.35, 1.59),
        (14.29, 11.11, 1.59, 3.17, 63.49, 6.35, 0),
        (16.39, 11.48, 6.56, 8.20, 13.11, 40.98, 3.28),
        (32.61, 6.52, 17.39, 0, 15.22, 8.70, 19.57),
    ),
    "audio_svm": (  # Table 3
        (76.56, 0, 3.12, 9.38, 7.81, 3.12, 0),
        (25.00, 0, 0, 42.50, 20.00, 12.50, 0),
        (23.91, 0, 30.43, 23.91, 13.04, 8.70, 0),
        (15.87, 1.59, 9.52, 42.86, 20.63, 9.52, 0),
        (12.70, 1.59, 3.17, 34.92, 46.03, 1.59, 0),
        (11.48, 0, 11.48, 26.23, 21.31, 27.87, 1.64),
        (19.57, 0, 17.39, 36.96, 13.04, 13.04, 0),
    ),
    "audio_lstm": (  # Table 4
        (48.44, 1.56, 0, 15.62, 15.62, 18.75, 0),
        (15.00, 2.50, 0, 35.00, 32.50, 15.00, 0),
        (30.43, 0, 0, 19.57, 28.26, 21.74, 0),
        (12.70, 4.76, 0, 33.33, 30.16, 19.05, 0),
        (6.35, 3.17, 0, 17.46, 52.38, 20.63, 0),
        (11.48, 6.56, 0, 22.95, 32.79, 26.23, 0),
        (17.39, 0, 2.17, 30.43, 36.96, 13.04, 0),
    ),
    "inception_lstm": (  # Table 5
        (56.25, 0, 0, 29.69, 10.94, 3.12, 0),
        (12.50, 0, 0, 57.50, 27.50, 2.50, 0),
        (13.04, 0, 2.17, 45.65, 36.96, 2.17, 0),
        (11.11, 0, 0, 52.38, 26.98, 9.52, 0),
        (6.35, 0, 0, 52.38, 39.68, 1.59, 0),
        (8.20, 0, 0, 63.93, 16.39, 11.48, 0),
        (6.52, 2.17, 2.17, 56.52, 26.09, 6.52, 0),
    ),
    "fusion": (  # Table 6: test set, models retrained on train+val
        (77.55, 0, 4.08, 8.16, 7.14, 2.04, 1.02),
        (32.50, 10.00, 2.50, 12.50, 20.00, 20.00, 2.50),
        (31.43, 0, 50.00, 1.43, 5.71, 7.14, 4.29),
        (20.83, 0, 1.39, 63.89, 10.42, 3.47, 0),
        (16.69, 1.04, 7.77, 6.22, 50.78, 11.92, 2.59),
        (22.50, 1.25, 11.25, 11.25, 16.25, 36.25, 1.25),
        (10.71, 3.57, 35.71, 10.71, 14.29, 25.00, 0),
    ),
}
# Which split each paper table reports (Tables 1-5: validation; Table 6: test).
PAPER_CONFUSION_SPLIT: dict[str, str] = {
    "vgg_lstm_a": "val", "vgg_lstm_b": "val", "audio_svm": "val",
    "audio_lstm": "val", "inception_lstm": "val", "fusion": "test",
}
PAPER_CONFUSION_TABLE: dict[str, int] = {
    "vgg_lstm_a": 1, "vgg_lstm_b": 2, "audio_svm": 3, "audio_lstm": 4, "inception_lstm": 5, "fusion": 6,
}
# not paper: bootstrap settings for the report's 95 % confidence intervals.
BOOTSTRAP_CONFIDENCE: float = 0.95
# Every value of paper 2.1-2.4 and 3.2 that a config key sets: {dotted config key: (value, where
# the paper says so)}. configs/paper.yaml must match it exactly (tests/test_paper_config.py) and the
# report lists each key where a run's config differs (avemotion.config.paper_deviations).
PAPER_CONFIG: dict[str, tuple[object, str]] = {
    "dataset.kind": ("afew", "3.1: AFEW as used in EmotiW 2017"),
    "media.timeline_fps": (TIMELINE_FPS, "2.1: frames extracted at 60 fps"),
    "faces.size": (VGG_INPUT_SIZE, "2.1: aligned faces are VGG-16's 224 x 224 input [20]"),
    "faces.track_a.method": ("dlib", "2.1: faces and landmarks by [18] (dlib's ERT landmarks)"),
    "audio.shortterm.window_s": (SHORT_TERM_WINDOW_S, "2.3: 100 ms segments"),
    "audio.shortterm.step_s": (SHORT_TERM_STEP_S, "2.3: 50 % overlap"),
    "audio.shortterm.min_sequence_length": (MIN_SHORT_TERM_SEQUENCE, "2.3: at least 16 vectors"),
    "audio.maps.size": (AUDIO_MAP_SIZE, "2.4: 34 x 34 maps"),
    "audio.maps.step": (AUDIO_MAP_STEP, "2.4: 50 % overlap"),
    "audio.maps.min_maps": (MIN_AUDIO_MAPS, "2.4: at least 8 maps"),
    "models.vgg_lstm.require_pretraining": (True, "2.1: VGG-Face init [21] and the FER-2013 step [22]"),
    "models.vgg_lstm.width_multiplier": (1.0, "2.1: VGG-16 [20]"),
    "models.vgg_lstm.batch_norm": (False, "2.1: plain VGG-16, as VGG-Face [21]"),
    "models.vgg_lstm.input_normalization": ("mean", "2.1: VGG-Face's mean subtraction [21]"),
    "models.vgg_lstm.input_size": (VGG_INPUT_SIZE, "2.1: VGG-16 [20]"),
    "models.vgg_lstm.lstm_hidden": (VGG_LSTM_HIDDEN, "2.1: LSTM with 128 nodes"),
    "models.vgg_lstm.sequence_length": (VGG_LSTM_SEQUENCE_LENGTH, "2.1: sequences of 16 faces"),
    "models.vgg_lstm.frame_gap": (VGG_LSTM_FRAME_GAP, "2.1: a face every 8 frames"),
    "models.vgg_lstm.fer2013_usages": (list(FER2013_USAGES), "2.1: step (a) on FER-2013's 35887 images"),
    "models.vgg_lstm.augment_flip": (False, "2.1 names no augmentation"),
    "models.vgg_lstm.augment_max_shift": (0.0, "2.1 names no augmentation"),
    "models.audio_lstm.hidden": (AUDIO_LSTM_HIDDEN, "2.3: LSTM with 512 neurons"),
    "models.audio_lstm.min_sequence_length": (MIN_SHORT_TERM_SEQUENCE, "2.3: at least 16 vectors"),
    "models.inception_lstm.width_multiplier": (1.0, "2.4: Inception-v2 at full width"),
    "models.inception_lstm.batch_size": (INCEPTION_V2_IMAGENET_BATCH_SIZE, "2.4 -> [24] section 8"),
    "models.inception_lstm.map_solver.optimizer": (INCEPTION_V2_IMAGENET_OPTIMIZER, "2.4 -> [24] section 8"),
    "models.inception_lstm.map_solver.rmsprop_alpha": (INCEPTION_V2_IMAGENET_RMSPROP_DECAY, "2.4 -> [24] section 8"),
    "models.inception_lstm.map_solver.rmsprop_eps": (INCEPTION_V2_IMAGENET_RMSPROP_EPSILON, "2.4 -> [24] section 8"),
    "models.inception_lstm.map_solver.lr": (INCEPTION_V2_IMAGENET_LR, "2.4 -> [24] section 8"),
    "models.inception_lstm.map_solver.lr_step_epochs": (INCEPTION_V2_IMAGENET_LR_DECAY_EPOCHS, "2.4 -> [24] section 8"),
    "models.inception_lstm.map_solver.lr_gamma": (INCEPTION_V2_IMAGENET_LR_DECAY, "2.4 -> [24] section 8"),
    "models.inception_lstm.map_solver.clip_grad_norm": (INCEPTION_V2_IMAGENET_CLIP_GRADIENT, "2.4 -> [24] section 8"),
    "models.inception_lstm.lstm_hidden": (INCEPTION_LSTM_HIDDEN, "2.4: LSTM with 128 neurons"),
    "models.inception_lstm.sequence_length": (INCEPTION_LSTM_SEQUENCE_LENGTH, "2.4: sequences of 8 maps"),
    "models.inception_lstm.lr": (INCEPTION_BASE_LR, "2.4: initial learning rate 0.001"),
    "models.inception_lstm.lr_step_iterations": (INCEPTION_LR_STEP_ITERATIONS, "2.4: divided by 10 every 3000"),
    "models.inception_lstm.lr_gamma": (INCEPTION_LR_GAMMA, "2.4: divided by 10 every 3000"),
    "models.inception_lstm.sequence_batch_size": (INCEPTION_BATCH_SIZE, "2.4: batch size 16"),
    "models.inception_lstm.weight_decay": (INCEPTION_WEIGHT_DECAY, "2.4: weight decay 0.002"),
    "models.inception_lstm.sequence_iterations": (INCEPTION_MAX_ITERATIONS, "2.4: 10000 iterations"),
    "fusion.models": (list(MODELS), "3.2 / Fig. 1: the five models"),
    "fusion.refit": (True, "3.2: test predictions from models retrained on train+val"),
}
# The paper's numbers that no config key sets and no code computes with, with their sections: they
# describe the data and the results beyond Tables 1-6 (tests/test_paper_config.py: every constant
# is used by the code or listed here or in PAPER_CONFIG).
PAPER_REPORTED_ONLY: dict[str, tuple[object, str]] = {
    "FER-2013 images": (FER2013_N_IMAGES, "2.1 [22]"),
    "VGG-Face training images": (VGG_FACE_TRAINING_IMAGES, "2.1 [21]"),
    "VGG-Face identities": (VGG_FACE_IDENTITIES, "2.1 [21]"),
    "AFEW clips per split": (AFEW_SPLIT_SIZES, "3.1"),
    "val accuracy % of the two VGG-LSTMs combined": (PAPER_VAL_ACCURACY_TWO_VGG_LSTMS, "3.2"),
    "val accuracy % of the EmotiW 2016 winner [6]": (EMOTIW2016_WINNER_VAL_ACCURACY, "3.2"),
    "challenge submission of the test results": (PAPER_TEST_SUBMISSION, "Table 6"),
}
# Models stage.
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
# VGG-Face files: the input mean each release of VGG-Face [21] was trained with, 0..255.
# [21] VGG-Face release, RGB: MatConvNet vgg_face.mat meta.normalization.averageImage as float32, the
# `meta.mean` of pytorch-mcn's vgg_face_dag; the Caffe release uses it too (in BGR order).
VGG_FACE_RGB_MEAN: tuple[float, float, float] = (129.186279296875, 104.76238250732422, 93.59396362304688)
# rcmalli keras-vggface utils.preprocess_input(version=1), subtracted from BGR images (B, G, R order).
VGG_FACE_KERAS_BGR_MEAN: tuple[float, float, float] = (93.5940, 104.7624, 129.1863)
