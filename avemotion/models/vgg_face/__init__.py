"""VGG-Face [21] weights (paper 2.1) from the files that are actually distributed, detected by content.

Accepted (`FORMATS`), each with the input convention of its release, which is applied on loading so that
`VGG16` keeps taking RGB 0..255 images:

- ``torch-dag``: Albanie's pytorch-mcn conversion ``vgg_face_dag.pth``, a torch state_dict with keys
  ``conv1_1.weight`` ... ``conv5_3.bias`` ([out, in, 3, 3]) and ``fc6/fc7/fc8.weight/bias`` stored as
  ``nn.Linear`` ([4096, 25088] over pool5 flattened as C, H, W). RGB, mean of its ``meta``, 0..255.
- ``keras-h5``: rcmalli keras-vggface ``rcmalli_vggface_tf_vgg16.h5`` / ``rcmalli_vggface_tf_notop_vgg16.h5``
  (Keras 2 ``save_weights``: root attribute ``layer_names``, one group per layer with attribute
  ``weight_names`` such as ``conv1_1/kernel:0``; kernels H x W x in x out; fc6 kernel [25088, 4096] over
  pool5 flattened as H, W, C). BGR, mean (93.5940, 104.7624, 129.1863) in BGR order, 0..255. The notop
  file has no fc6/fc7 (`missing_fc_layers`): loading it leaves those at their init and logs a warning;
  with ``models.vgg_lstm.require_pretraining`` the config check refuses it before any job.
- ``matconvnet``: ``vgg_face.mat`` / ``vgg-face.mat`` (simplenn: ``layers`` cell array of structs with
  ``name``, ``type`` and ``weights = {filters, biases}`` or the older ``filters``/``biases`` fields, at the top
  level or inside ``net``; filters H x W x in x out; fc6 a 7x7 conv, fc7/fc8 1x1 convs) read with
  ``scipy.io.loadmat``. RGB, mean ``meta.normalization.averageImage`` (or ``normalization`` of older files).
- ``caffe``: ``VGG_FACE.caffemodel`` (protobuf NetParameter with V1 ``layers`` or ``layer``; BlobProto with
  ``shape`` or the legacy num/channels/height/width), read by a small wire-format reader. Weights as torch;
  BGR; the mean is not in the file: the release's RGB mean is used.
- ``torch-state-dict``: a torch state_dict in `avemotion.models.vgg.VGG16`'s own layout (``features.N.weight``,
  ``fc6.weight`` ...; `VGG_FACE_KEYS`), RGB, the model's mean (or the file's ``mean`` when it holds one).

fc8 is never loaded (paper 2.1: re-initialised for the 7 emotions). The loader reads and sets only the
model's `features`, `fc6`, `fc7` and `mean`.
"""
from __future__ import annotations

from .detect import FORMATS, missing_fc_layers, vgg_face_format
from .layout import CONV_NAMES, VGG_FACE_KEYS
from .load import load_vgg_face_weights

__all__ = ["CONV_NAMES", "FORMATS", "VGG_FACE_KEYS", "load_vgg_face_weights", "missing_fc_layers", "vgg_face_format"]
