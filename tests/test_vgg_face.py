"""VGG-Face files in each release's own layout, checked against numpy forward passes
written in that release's own convention (channel order, mean, kernel layout, flatten order).

Every file is a reduced VGG-16 (width 1/16, 64x64 input: pool5 is 2x2xC, so a flatten-order bug shows).
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from avemotion.constants import VGG16_CFG, VGG_FACE_KERAS_BGR_MEAN, VGG_FACE_RGB_MEAN
from avemotion.models.vgg import VGG16
from avemotion.models.vgg_face import CONV_NAMES, FORMATS, load_vgg_face_weights, vgg_face_format

WIDTH, SIZE = 1 / 16, 64
CONV_WIDTHS = [max(1, round(c * WIDTH)) for c in VGG16_CFG if c != "M"]
FC_WIDTH, N_OUT = 256, 5  # 4096 / 16; a file's own fc8 (never loaded)
POOL5 = (SIZE // 32, SIZE // 32, CONV_WIDTHS[-1])  # H, W, C


def model() -> VGG16:
    return VGG16(input_size=SIZE, width_multiplier=WIDTH, batch_norm=False, input_normalization="mean")


def image(seed: int = 0) -> np.ndarray:
    """An RGB uint8 image, H x W x 3."""
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def fc7_of(net: VGG16, rgb: np.ndarray) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        batch = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
        return net.fc7(net.fc6_features(batch))[0].double().numpy()


# fc7 in float32 through 15 layers against a float64 reference: a thousandth (of the value, or of the
# largest for values near 0) is rounding; a weight in the wrong layout or order is off by order one.
def assert_matches(got: np.ndarray, expected: np.ndarray) -> None:
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def differs(got: np.ndarray, expected: np.ndarray) -> bool:
    return not np.allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def hwio_convs(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """13 (kernel H x W x in x out, bias) with He scale, so activations stay O(1..100)."""
    convs, channels = [], 3
    for width in CONV_WIDTHS:
        kernel = rng.normal(0, np.sqrt(2 / (9 * channels)), (3, 3, channels, width)).astype(np.float32)
        convs.append((kernel, rng.normal(0, 0.1, width).astype(np.float32)))
        channels = width
    return convs


def dense(rng: np.random.Generator, inputs: int, outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """(kernel in x out, bias)."""
    return (rng.normal(0, np.sqrt(2 / inputs), (inputs, outputs)).astype(np.float32),
            rng.normal(0, 0.1, outputs).astype(np.float32))


def conv_hwc(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3x3 'same' correlation of an H x W x C map with an H x W x in x out kernel."""
    height, width = x.shape[:2]
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = sum(np.einsum("hwc,co->hwo", padded[i:i + height, j:j + width], kernel[i, j])
              for i in range(3) for j in range(3))
    return out + bias


def conv_chw(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3x3 'same' correlation of a C x H x W map with an out x in x H x W weight."""
    height, width = x.shape[1:]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = sum(np.einsum("chw,oc->ohw", padded[:, i:i + height, j:j + width], weight[:, :, i, j])
              for i in range(3) for j in range(3))
    return out + bias[:, None, None]


def trunk_hwc(x: np.ndarray, convs) -> np.ndarray:
    index = 0
    for item in VGG16_CFG:
        if item == "M":
            h, w, c = x.shape
            x = x.reshape(h // 2, 2, w // 2, 2, c).max((1, 3))
        else:
            x = np.maximum(conv_hwc(x, *convs[index]), 0)
            index += 1
    return x


def trunk_chw(x: np.ndarray, convs) -> np.ndarray:
    index = 0
    for item in VGG16_CFG:
        if item == "M":
            c, h, w = x.shape
            x = x.reshape(c, h // 2, 2, w // 2, 2).max((2, 4))
        else:
            x = np.maximum(conv_chw(x, *convs[index]), 0)
            index += 1
    return x


def write_dag(path, rng) -> dict[str, np.ndarray]:
    """Albanie's layout: conv{b}_{i}.weight [out, in, 3, 3], fc6/7/8 as nn.Linear [out, in] over pool5
    flattened C, H, W (its forward: x.view(x.size(0), -1)); saved with the pre-1.6 serialisation."""
    state: dict[str, np.ndarray] = OrderedDict()
    for name, (kernel, bias) in zip(CONV_NAMES, hwio_convs(rng)):
        state[f"{name}.weight"], state[f"{name}.bias"] = kernel.transpose(3, 2, 0, 1).copy(), bias
    c, h, w = POOL5[2], POOL5[0], POOL5[1]
    for name, (inputs, outputs) in (("fc6", (c * h * w, FC_WIDTH)), ("fc7", (FC_WIDTH, FC_WIDTH)),
                                    ("fc8", (FC_WIDTH, N_OUT))):
        kernel, bias = dense(rng, inputs, outputs)
        state[f"{name}.weight"], state[f"{name}.bias"] = kernel.T.copy(), bias
    torch.save(OrderedDict((k, torch.from_numpy(v)) for k, v in state.items()), path,
               _use_new_zipfile_serialization=False)
    return state


def dag_reference(state, rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float64).transpose(2, 0, 1) - np.array(VGG_FACE_RGB_MEAN)[:, None, None]
    convs = [(state[f"{n}.weight"], state[f"{n}.bias"]) for n in CONV_NAMES]
    x = trunk_chw(x, convs).reshape(-1)
    x = np.maximum(state["fc6.weight"] @ x + state["fc6.bias"], 0)
    return state["fc7.weight"] @ x + state["fc7.bias"]


def test_torch_dag_file(tmp_path):
    path = tmp_path / "weights.bin"  # detection by content: the name says nothing
    state = write_dag(path, np.random.default_rng(1))
    assert vgg_face_format(path) == "torch-dag"
    net = model()
    fc8_before = net.fc8.weight.clone()
    loaded = load_vgg_face_weights(net, path)
    assert "features.0.weight" in loaded and "fc7.bias" in loaded and not any(k.startswith("fc8") for k in loaded)
    assert torch.equal(net.fc8.weight, fc8_before)
    assert_matches(fc7_of(net, image()), dag_reference(state, image()))


def test_torch_state_dict_own_layout(tmp_path):
    source = model()
    path = tmp_path / "own"
    torch.save({k: v for k, v in source.state_dict().items() if not k.startswith("fc8")}, path)
    assert vgg_face_format(path) == "torch-state-dict"
    net = model()
    load_vgg_face_weights(net, path)
    # the same float32 weights, the same code: only the summation order of another load may differ
    np.testing.assert_allclose(fc7_of(net, image()), fc7_of(source, image()), rtol=1e-5)


KERAS_TOP = ["flatten", "fc6", "fc6/relu", "fc7", "fc7/relu", "fc8", "fc8/softmax"]


def keras_layer_names(top: bool) -> list[str]:
    names, block, index = ["input_1"], 1, 1
    for item in VGG16_CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names.append(f"conv{block}_{index}")
            index += 1
    return names + (KERAS_TOP if top else [])


def write_keras(path, rng, top: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Keras 2 `save_weights` (TF backend): root attrs layer_names/backend/keras_version; one group per
    layer (a name with '/' nests, as h5py does for Keras) with attr weight_names and datasets
    '{layer}/kernel:0', '{layer}/bias:0'; conv kernels H x W x in x out, Dense kernels in x out, fc6's
    rows in pool5's (H, W, C) flatten order."""
    weights = dict(zip(CONV_NAMES, hwio_convs(rng)))
    if top:
        weights["fc6"] = dense(rng, int(np.prod(POOL5)), FC_WIDTH)
        weights["fc7"] = dense(rng, FC_WIDTH, FC_WIDTH)
        weights["fc8"] = dense(rng, FC_WIDTH, N_OUT)
    names = keras_layer_names(top)
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([n.encode() for n in names])
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = b"2.1.5"
        for name in names:
            group = handle.require_group(name)
            if name in weights:
                kernel, bias = weights[name]
                weight_names = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                group.attrs["weight_names"] = np.array(weight_names)
                group.create_dataset(f"{name}/kernel:0", data=kernel)
                group.create_dataset(f"{name}/bias:0", data=bias)
            else:
                group.attrs["weight_names"] = np.array([], dtype="S1")
    return weights


def keras_reference(weights, rgb: np.ndarray) -> np.ndarray:
    """keras-vggface: BGR, NHWC, minus its BGR mean; Flatten over (H, W, C); Dense x @ kernel + bias."""
    x = rgb.astype(np.float64)[..., ::-1] - np.array(VGG_FACE_KERAS_BGR_MEAN)
    x = trunk_hwc(x, [weights[n] for n in CONV_NAMES]).reshape(-1)
    x = np.maximum(x @ weights["fc6"][0] + weights["fc6"][1], 0)
    return x @ weights["fc7"][0] + weights["fc7"][1]


def test_keras_h5_file(tmp_path):
    path = tmp_path / "vggface.weights"
    weights = write_keras(path, np.random.default_rng(2))
    assert vgg_face_format(path) == "keras-h5"
    net = model()
    load_vgg_face_weights(net, path)
    torch.testing.assert_close(net.mean.flatten(), torch.tensor(VGG_FACE_KERAS_BGR_MEAN[::-1]))
    expected = keras_reference(weights, image())
    assert_matches(fc7_of(net, image()), expected)
    # The test can fail: the same file with conv1_1's input channels left in BGR order does not match.
    with torch.no_grad():
        net.features[0].weight.copy_(net.features[0].weight.flip(1))
    assert differs(fc7_of(net, image()), expected)


def test_keras_h5_fc6_flatten_order_matters(tmp_path):
    """A loader that took fc6's rows in torch's (C, H, W) order would not match the Keras pass."""
    path = tmp_path / "vggface.h5"
    weights = write_keras(path, np.random.default_rng(3))
    net = model()
    load_vgg_face_weights(net, path)
    h, w, c = POOL5
    wrong = weights["fc6"][0].T.copy()  # as if the rows were already (C, H, W)
    assert not np.allclose(wrong, net.fc6.weight.detach().numpy())
    chw_rows = weights["fc6"][0].reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
    np.testing.assert_array_equal(net.fc6.weight.detach().numpy(), chw_rows.T)


def test_keras_notop_file_loads_convs_only(tmp_path, caplog):
    path = tmp_path / "notop.h5"
    weights = write_keras(path, np.random.default_rng(4), top=False)
    assert vgg_face_format(path) == "keras-h5"
    net = model()
    fc6_before, fc7_before = net.fc6.weight.clone(), net.fc7.weight.clone()
    with caplog.at_level(logging.WARNING):
        loaded = load_vgg_face_weights(net, path)
    assert not any(key.startswith("fc") for key in loaded) and len([k for k in loaded if "features" in k]) == 26
    assert torch.equal(net.fc6.weight, fc6_before) and torch.equal(net.fc7.weight, fc7_before)
    assert "without top" in caplog.text
    np.testing.assert_array_equal(net.features[2].weight.detach().numpy(),
                                  weights["conv1_2"][0].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(net.features[0].weight.detach().numpy(),
                                  weights["conv1_1"][0].transpose(3, 2, 0, 1)[:, ::-1])  # BGR -> RGB input


def write_matconvnet(path, rng, wrapped_in_net: bool = False) -> dict:
    """simplenn: `layers` a 1 x N cell of structs (name, type, weights = {filters, biases} or the older
    filters/biases fields, stride, pad); filters H x W x in x out; fc6 a valid conv over pool5 (here
    2x2), fc7/fc8 1x1 convs; meta.normalization.averageImage a 1x1x3 RGB mean."""
    convs = hwio_convs(rng)
    h, w, c = POOL5
    fc6 = dense(rng, h * w * c, FC_WIDTH)
    fcs = {"fc6": (fc6[0].reshape(h, w, c, FC_WIDTH), fc6[1])}
    for name, (inputs, outputs) in (("fc7", (FC_WIDTH, FC_WIDTH)), ("fc8", (FC_WIDTH, N_OUT))):
        kernel, bias = dense(rng, inputs, outputs)
        fcs[name] = (kernel.reshape(1, 1, inputs, outputs), bias)
    average = np.array([120.5, 110.25, 99.0])

    def conv_layer(name, filters, biases, pad):
        weights = np.empty((1, 2), dtype=object)
        weights[0, 0], weights[0, 1] = filters, biases.reshape(1, -1)
        fields = {"name": name, "type": "conv", "stride": np.array([1.0, 1.0]), "pad": np.full(4, float(pad))}
        if wrapped_in_net:  # the older layout: filters/biases fields
            return {**fields, "filters": filters, "biases": biases.reshape(1, -1)}
        return {**fields, "weights": weights}

    layers, block, index, conv = [], 1, 1, 0
    for item in VGG16_CFG:
        if item == "M":
            layers.append({"name": f"pool{block}", "type": "pool", "method": "max", "pool": np.array([2.0, 2.0]),
                           "stride": np.array([2.0, 2.0]), "pad": np.zeros(4)})
            block, index = block + 1, 1
        else:
            layers.append(conv_layer(f"conv{block}_{index}", *convs[conv], pad=1))
            layers.append({"name": f"relu{block}_{index}", "type": "relu"})
            index, conv = index + 1, conv + 1
    for name in ("fc6", "fc7", "fc8"):
        layers.append(conv_layer(name, *fcs[name], pad=0))
        if name != "fc8":
            layers.append({"name": name.replace("fc", "relu"), "type": "relu"})
    layers.append({"name": "prob", "type": "softmax"})
    cell = np.empty((1, len(layers)), dtype=object)
    for position, layer in enumerate(layers):
        cell[0, position] = layer
    normalization = {"averageImage": average.reshape(1, 1, 3), "imageSize": np.array([SIZE, SIZE, 3.0])}
    if wrapped_in_net:
        scipy.io.savemat(path, {"net": {"layers": cell, "normalization": normalization}})
    else:
        scipy.io.savemat(path, {"layers": cell, "meta": {"normalization": normalization}})
    return {"convs": convs, "fcs": fcs, "average": average}


def matconvnet_reference(saved, rgb: np.ndarray) -> np.ndarray:
    """vl_simplenn on im - averageImage: H x W x C, RGB; fc6 = 'valid' conv of a 2x2 filter over the 2x2
    pool5 map, fc7 a 1x1 conv."""
    x = rgb.astype(np.float64) - saved["average"].reshape(1, 1, 3)
    x = trunk_hwc(x, saved["convs"])
    filters, biases = saved["fcs"]["fc6"]
    x = np.maximum(np.einsum("hwc,hwco->o", x, filters) + biases, 0)
    filters, biases = saved["fcs"]["fc7"]
    return np.einsum("c,co->o", x, filters[0, 0]) + biases


@pytest.mark.parametrize("wrapped_in_net", [False, True], ids=["vlfeat-meta", "net-filters-biases"])
def test_matconvnet_file(tmp_path, wrapped_in_net):
    path = tmp_path / "net.data"
    saved = write_matconvnet(path, np.random.default_rng(5), wrapped_in_net)
    assert vgg_face_format(path) == "matconvnet"
    net = model()
    load_vgg_face_weights(net, path)
    np.testing.assert_allclose(net.mean.flatten().numpy(), saved["average"], rtol=1e-6)  # float32 of the file's mean
    assert_matches(fc7_of(net, image()), matconvnet_reference(saved, image()))


def caffe_classes():
    """NetParameter / V1LayerParameter / LayerParameter / BlobProto with caffe.proto's field numbers,
    built with the protobuf library (the loader's reader is hand-written: this checks it independently)."""
    proto = descriptor_pb2.FileDescriptorProto(name="caffe_vgg_face_test.proto", package="caffetest",
                                               syntax="proto2")
    field = descriptor_pb2.FieldDescriptorProto
    repeated, optional = field.LABEL_REPEATED, field.LABEL_OPTIONAL

    def message(name, fields):
        described = proto.message_type.add(name=name)
        for field_name, number, label, kind, type_name, packed in fields:
            added = described.field.add(name=field_name, number=number, label=label, type=kind)
            if type_name:
                added.type_name = f".caffetest.{type_name}"
            if packed:
                added.options.packed = True

    message("BlobShape", [("dim", 1, repeated, field.TYPE_INT64, None, True)])
    message("BlobProto", [("num", 1, optional, field.TYPE_INT32, None, False),
                          ("channels", 2, optional, field.TYPE_INT32, None, False),
                          ("height", 3, optional, field.TYPE_INT32, None, False),
                          ("width", 4, optional, field.TYPE_INT32, None, False),
                          ("data", 5, repeated, field.TYPE_FLOAT, None, True),
                          ("diff", 6, repeated, field.TYPE_FLOAT, None, True),
                          ("shape", 7, optional, field.TYPE_MESSAGE, "BlobShape", False)])
    message("V1LayerParameter", [("bottom", 2, repeated, field.TYPE_STRING, None, False),
                                 ("top", 3, repeated, field.TYPE_STRING, None, False),
                                 ("name", 4, optional, field.TYPE_STRING, None, False),
                                 ("type", 5, optional, field.TYPE_INT32, None, False),  # enum on the wire
                                 ("blobs", 6, repeated, field.TYPE_MESSAGE, "BlobProto", False),
                                 ("blobs_lr", 7, repeated, field.TYPE_FLOAT, None, False)])
    message("LayerParameter", [("name", 1, optional, field.TYPE_STRING, None, False),
                               ("type", 2, optional, field.TYPE_STRING, None, False),
                               ("bottom", 3, repeated, field.TYPE_STRING, None, False),
                               ("top", 4, repeated, field.TYPE_STRING, None, False),
                               ("blobs", 7, repeated, field.TYPE_MESSAGE, "BlobProto", False)])
    message("NetParameter", [("name", 1, optional, field.TYPE_STRING, None, False),
                             ("layers", 2, repeated, field.TYPE_MESSAGE, "V1LayerParameter", False),
                             ("input", 3, repeated, field.TYPE_STRING, None, False),
                             ("input_dim", 4, repeated, field.TYPE_INT32, None, False),
                             ("layer", 100, repeated, field.TYPE_MESSAGE, "LayerParameter", False)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"caffetest.{name}"))
            for name in ("NetParameter", "BlobProto")}


def write_caffe(path, rng, v1: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """VGG_FACE.caffemodel: V1 `layers` with legacy num/channels/height/width blobs (conv out x in x 3 x 3,
    InnerProduct 1 x 1 x out x in over pool5 flattened C, H, W), or V2 `layer` with BlobShape."""
    classes = caffe_classes()
    net = classes["NetParameter"](name="VGG_FACE_16_layers")
    weights = {name: (k.transpose(3, 2, 0, 1).copy(), b) for name, (k, b) in zip(CONV_NAMES, hwio_convs(rng))}
    h, w, c = POOL5
    for name, (inputs, outputs) in (("fc6", (c * h * w, FC_WIDTH)), ("fc7", (FC_WIDTH, FC_WIDTH)),
                                    ("fc8", (FC_WIDTH, N_OUT))):
        kernel, bias = dense(rng, inputs, outputs)
        weights[name] = (kernel.T.copy(), bias)
    previous = "data"
    for name, (weight, bias) in weights.items():
        layer = net.layers.add(name=name, type=4 if name.startswith("conv") else 14, bottom=[previous], top=[name],
                               blobs_lr=[1.0, 2.0]) if v1 else \
            net.layer.add(name=name, type="Convolution" if name.startswith("conv") else "InnerProduct",
                          bottom=[previous], top=[name])
        for blob in (weight, bias):
            proto = layer.blobs.add(data=blob.ravel().tolist())
            if v1:
                dims = (1,) * (4 - blob.ndim) + blob.shape
                proto.num, proto.channels, proto.height, proto.width = dims
            else:
                proto.shape.dim.extend(blob.shape)
        relu = net.layers.add(name=f"relu{name[2:] if name.startswith('fc') else name[4:]}", type=18,
                              bottom=[name], top=[name]) if v1 else None
        assert relu is None or not relu.blobs
        previous = name
    if v1:
        net.input.append("data")
        net.input_dim.extend([1, 3, SIZE, SIZE])
    path.write_bytes(net.SerializeToString())
    return weights


def caffe_reference(weights, rgb: np.ndarray) -> np.ndarray:
    """Caffe: BGR N x C x H x W minus the BGR mean; InnerProduct W @ x over the (C, H, W) flatten."""
    x = rgb.astype(np.float64)[..., ::-1].transpose(2, 0, 1) - np.array(VGG_FACE_RGB_MEAN[::-1])[:, None, None]
    x = trunk_chw(x, [weights[n] for n in CONV_NAMES]).reshape(-1)
    x = np.maximum(weights["fc6"][0] @ x + weights["fc6"][1], 0)
    return weights["fc7"][0] @ x + weights["fc7"][1]


@pytest.mark.parametrize("v1", [True, False], ids=["V1-layers", "layer"])
def test_caffe_file(tmp_path, v1):
    path = tmp_path / "model.dat"
    weights = write_caffe(path, np.random.default_rng(6), v1)
    assert vgg_face_format(path) == "caffe"
    net = model()
    load_vgg_face_weights(net, path)
    assert_matches(fc7_of(net, image()), caffe_reference(weights, image()))


def test_unknown_and_missing_files_name_the_path_and_the_formats(tmp_path):
    for content in (b"name,weights\n1,2\n", bytes(range(256)) * 8, b""):
        path = tmp_path / "unknown.pth"
        path.write_bytes(content)
        with pytest.raises(ValueError, match="unknown.pth") as error:
            vgg_face_format(path)
        assert all(name in str(error.value) for name in FORMATS)
        with pytest.raises(ValueError, match="accepted formats"):
            load_vgg_face_weights(model(), path)
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")  # a torch file, but no VGG keys
    with pytest.raises(ValueError, match="accepted formats"):
        vgg_face_format(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="missing.h5"):
        vgg_face_format(tmp_path / "missing.h5")


def test_shape_mismatch_names_the_key_and_both_shapes(tmp_path):
    path = tmp_path / "vgg_face_dag.pth"
    write_dag(path, np.random.default_rng(7))
    wider = VGG16(input_size=SIZE, width_multiplier=1 / 8)
    with pytest.raises(ValueError, match=r"conv1_1\.weight has shape \(4, 3, 3, 3\).*\(8, 3, 3, 3\)") as error:
        load_vgg_face_weights(wider, path)
    assert str(path) in str(error.value) and "width_multiplier" in str(error.value)
    keras = tmp_path / "vggface.h5"
    write_keras(keras, np.random.default_rng(8))
    with pytest.raises(ValueError, match="fc6/fc6/kernel:0"):
        load_vgg_face_weights(VGG16(input_size=96, width_multiplier=WIDTH), keras)


def test_mean_travels_with_a_checkpoint(tmp_path):
    """The file's mean is a persistent buffer: a checkpoint rebuilt from config and loaded strictly keeps it."""
    path = tmp_path / "keras.h5"
    write_keras(path, np.random.default_rng(9))
    net = model()
    load_vgg_face_weights(net, path)
    rebuilt = model()
    rebuilt.load_state_dict(net.state_dict())
    torch.testing.assert_close(rebuilt.mean, net.mean)
