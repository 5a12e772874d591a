"""Occlusion of the eyes, nose and mouth: a tiny CNN on the aligned chip, run in NumPy.

It was trained by tools/train_quality.py on LFW's and CFP's chips (CFP's profiles teach it
that a far eye hidden by the nose is not covered) with synthetic occluders (plain,
noisy and textured patches, skin patches from other faces as "hands", glasses and
mask shapes), against chips degraded without occlusion (blur, noise, exposure, JPEG), so
that a bad photo is not mistaken for a covered face. Output: (N, 3) probabilities.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from facelens.quality.params import params

INPUT = 48
REGIONS = ("eyes", "nose", "mouth")
# Region boxes (x0, y0, x1, y1) in the 150-pixel dlib chip (eyes at y≈46, mouth at y≈99).
BOXES = {"eyes": (28, 30, 122, 62), "nose": (58, 54, 90, 88), "mouth": (44, 86, 104, 116)}
CHANNELS = (3, 12, 24, 32)


def prepare(chips: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 → (N, 3, 48, 48) float32, each chip standardised on its own (so
    exposure changes do not look like occluders)."""
    small = np.stack([cv2.resize(c, (INPUT, INPUT), interpolation=cv2.INTER_AREA) for c in chips])
    x = small.astype(np.float32).transpose(0, 3, 1, 2)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / (std + 8.0)


def _conv_relu_pool(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3×3 convolution (padding 1) as one matrix product (im2col), ReLU, 2×2 max-pool."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    columns = np.empty((n, h, w, c, 3, 3), np.float32)
    for dy in range(3):
        for dx in range(3):
            columns[..., dy, dx] = padded[:, :, dy : dy + h, dx : dx + w].transpose(0, 2, 3, 1)
    y = columns.reshape(n * h * w, c * 9) @ weight.reshape(len(weight), -1).T + bias
    y = np.maximum(y, 0).reshape(n, h // 2, 2, w // 2, 2, -1).max(axis=(2, 4))
    return y.transpose(0, 3, 1, 2)


def forward(x: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """The network as logits (N, 3); identical to the torch model it was trained as."""
    for layer in range(3):
        x = _conv_relu_pool(x, weights[f"conv{layer}.weight"], weights[f"conv{layer}.bias"])
    flat = x.reshape(len(x), -1)
    return flat @ weights["fc.weight"].T + weights["fc.bias"]


@cache
def _weights() -> dict[str, np.ndarray] | None:
    stored = params().get("occlusion_cnn")
    if stored is None:
        return None
    return {k: np.asarray(v, np.float32) for k, v in stored.items()}


@cache
def _session() -> ort.InferenceSession | None:
    """The network as an in-memory ONNX graph (tiny matrix products are slow in NumPy's
    threaded BLAS on a busy machine; ONNX Runtime runs the whole net in well under 1 ms)."""
    weights = _weights()
    if weights is None:
        return None
    nodes, name = [], "x"
    for layer in range(3):
        conv, relu, pool = f"c{layer}", f"r{layer}", f"p{layer}"
        nodes += [
            helper.make_node(
                "Conv",
                [name, f"conv{layer}.weight", f"conv{layer}.bias"],
                [conv],
                pads=[1, 1, 1, 1],
                kernel_shape=[3, 3],
            ),
            helper.make_node("Relu", [conv], [relu]),
            helper.make_node("MaxPool", [relu], [pool], kernel_shape=[2, 2], strides=[2, 2]),
        ]
        name = pool
    nodes += [
        helper.make_node("Flatten", [name], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "occlusion",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, INPUT, INPUT])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def occlusion_probabilities(chips: np.ndarray) -> np.ndarray:
    session = _session()
    if session is None or len(chips) == 0:  # untrained package: assume nothing is covered
        return np.zeros((len(chips), 3))
    logits = session.run(None, {"x": prepare(chips)})[0].astype(np.float64)
    return 1 / (1 + np.exp(-logits))
