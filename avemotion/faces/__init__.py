"""Face stage (paper section 2.1): faces and landmarks in every frame of the 60-fps timeline, aligned
by a transform that maps the eye corners of every face to the same positions, stored per clip as an
HDF5 face stack (docs/artifacts.md).

Two face tracks, as the paper trains two VGG-LSTMs on faces from two different methods:

* ``mediapipe`` (the demo's track A, module ``mediapipe_faces``): MediaPipe face detection (full range) finds the faces; FaceMesh with refined
  landmarks (478 points) runs on a crop around the subject; eye corners are mesh points 33/133 and
  362/263.
* ``dlib`` (the demo's track B and the paper config's track A, module ``dlib_faces``): dlib's HOG detector and
  the 68-point ERT shape predictor (Kazemi & Sullivan, the paper's reference [18]); the eye corners come from
  dlib's 5-point model. With ``follow`` the detector runs on every ``faces.redetect_every``-th frame and the
  landmarks follow the face in between.
  Or ``dataset``: the dataset's own aligned face crops (AFEW ships them), see
  :func:`find_dataset_face_images` for the accepted layout.

Work is per unique source frame: a 25-fps clip on the 60-fps timeline repeats frames, each one is
decoded and analysed once and the timeline stores, for every 60-fps frame, the row of its face (or -1).
Frames stream through a bounded queue filled by a decoding thread, so memory stays flat in clip length
and decoding overlaps analysis.
"""
from __future__ import annotations

from .align import align_face, eye_corner_template, similarity_transform
from .dataset import extract_faces_from_dataset, find_dataset_face_images
from .detection import Detection, FaceAnalyzer, FaceLandmarks
from .dlib_faces import DlibFaces
from .extract import FaceTrackExtractor, extract_face_shard, extract_face_track, extract_faces_from_video, make_analyzer
from .frames import Timeline, iter_source_frames, prefetch
from .mediapipe_faces import MediaPipeFaces
from .qc import write_face_index, write_face_qc
from ..artifacts import FaceStack, read_face_stack
from .stack import FaceTrackResult
from .subject import SubjectTracker

__all__ = [
    "Timeline", "iter_source_frames", "prefetch", "eye_corner_template", "similarity_transform", "align_face",
    "Detection", "FaceAnalyzer", "FaceLandmarks", "MediaPipeFaces", "DlibFaces", "make_analyzer", "SubjectTracker",
    "extract_faces_from_video", "extract_faces_from_dataset", "find_dataset_face_images", "extract_face_track",
    "FaceTrackExtractor", "extract_face_shard",
    "FaceStack", "FaceTrackResult", "read_face_stack", "write_face_index", "write_face_qc",
]
