"""Convert face-api's age/gender network to facelens/weights/faceapi-age-gender.onnx.

Usage: python tools/convert_faceapi_age_gender.py [path/to/unpacked/face-api/package]
Without a path, npm @vladmandic/face-api@1.7.15 is packed into a temp dir and unpacked.
Needs Node.js (for the check) and onnxruntime.

The network is a layers model whose architecture lives in face-api's TypeScript
(src/ageGenderNet/AgeGenderNet.ts, src/xception/TinyXception.ts): a TinyXception with two
main blocks over a 112×112 RGB input ((value − channel mean) / 255), 7×7 average pooling,
then a 1-unit age regression and a 2-class (male, female) softmax. Weights come from
`age_gender_model-weights_manifest.json` + `.bin`: uint8 with per-tensor (min, scale),
value = q · scale + min; biases float32. This script writes the same graph as ONNX nodes
(NCHW, TensorFlow "same" padding made explicit) with onnx.helper; no converter is involved.
The result is checked against face-api itself: its esm bundle (TF.js CPU backend) runs in
Node.js on the same random input, and the two must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import provenance
from tools.npm import unpack

PACKAGE, VERSION = "@vladmandic/face-api", "1.7.15"
OUT_NAME = "faceapi-age-gender.onnx"
MANIFEST = "age_gender_model-weights_manifest.json"
OPSET = 17
MEANS = np.array([122.782, 117.001, 104.298], np.float32)

# One of face-api's own networks in Node.js (TF.js CPU backend): input.f32 (N×112×112×3,
# 0..255) in; {writes} saves its outputs under the work folder ({model}: the weight files'
# stem, {net}: the class)
NODE_CHECK = """
globalThis.window = globalThis;  // the esm bundle's Node platform needs util; take the browser one
globalThis.document = {{ createElement: () => ({{}}) }};
const fs = await import('fs');
const faceapi = await import(process.argv[2] + '/dist/face-api.esm.js');
const tf = faceapi.tf;
await tf.setBackend('cpu');
const dir = process.argv[2] + '/model/', work = process.argv[3] + '/';
const manifest = JSON.parse(fs.readFileSync(dir + '{model}-weights_manifest.json'));
const bin = new Uint8Array(fs.readFileSync(dir + '{model}.bin')).buffer;
const net = new faceapi.{net}();
net.loadFromWeightMap(tf.io.decodeWeights(bin, manifest[0].weights));
const raw = new Float32Array(new Uint8Array(fs.readFileSync(work + 'input.f32')).buffer);
const x = tf.tensor4d(raw, [raw.length / (112 * 112 * 3), 112, 112, 3]);
const out = net.forwardInput(await faceapi.toNetInput(tf.unstack(x)));
{writes}
"""
AGE_GENDER_WRITES = """fs.writeFileSync(work + 'age.f32', Buffer.from(out.age.dataSync().buffer));
fs.writeFileSync(work + 'gender.f32', Buffer.from(out.gender.dataSync().buffer));"""


def run_faceapi(package: Path, work: Path, model: str, net: str, writes: str) -> np.ndarray:
    """Run face-api's own `net` in Node.js on seeded random faces; returns those faces
    (N×112×112×3, 0..255) for the ONNX side of the check."""
    images = np.random.default_rng(0).integers(0, 256, (4, 112, 112, 3)).astype(np.float32)
    images.tofile(work / "input.f32")
    (work / "check.mjs").write_text(NODE_CHECK.format(model=model, net=net, writes=writes))
    subprocess.run(
        ["node", str(work / "check.mjs"), str(package), str(work)], check=True, capture_output=True
    )
    return images


def onnx_outputs(model: Path, images: np.ndarray) -> list[np.ndarray]:
    """The converted graph's outputs on N×112×112×3 faces (0..255), normalised as face-api
    normalises them."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": ((images - MEANS) / 255).transpose(0, 3, 1, 2)})


def faceapi_package(tmp: Path) -> Path:
    """The unpacked face-api package: the command line's path, or npm's copy under `tmp`."""
    return Path(sys.argv[1]) if len(sys.argv) > 1 else unpack(PACKAGE, VERSION, tmp / "npm")


def read_weights(model_dir: Path, manifest: str = MANIFEST) -> dict[str, np.ndarray]:
    """Dequantised tensors by name, in TF.js layout (HWIO filters, [in, out] dense)."""
    groups = json.loads((model_dir / manifest).read_text())
    weights: dict[str, np.ndarray] = {}
    for group in groups:
        data = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"]))
            quant = spec.get("quantization")
            if quant:
                size = np.dtype(quant["dtype"]).itemsize * count
                raw = np.frombuffer(data, quant["dtype"], count, offset).astype(np.float32)
                values = raw * quant["scale"] + quant["min"]
            else:
                size = 4 * count
                values = np.frombuffer(data, np.float32, count, offset)
            weights[spec["name"]] = values.reshape(spec["shape"]).astype(np.float32)
            offset += size
        if offset != len(data):
            raise ValueError(f"{len(data) - offset} unread bytes in {group['paths']}")
    return weights


def same_pads(kernel: int, stride: int) -> list[int]:
    """ONNX pads (top, left, bottom, right) for TF "same" padding on this network's even
    sizes: max(kernel − stride, 0) in all, the odd pixel after."""
    total = max(kernel - stride, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2]


class Graph:
    """Accumulates ONNX nodes and initialisers for the TinyXception forward pass."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights, self.nodes, self.inits = weights, [], []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def op(self, kind: str, inputs: list[str], hint: str, out: str = "", **attrs: object) -> str:
        """One node; its output is `out`, or a numbered name under `hint`."""
        out = out or self.name(f"{hint}/{kind.lower()}")
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, prefix: str, kernel: str, stride: int, group: int = 1) -> str:
        """TF conv2d (HWIO filter, 'same' padding) as an ONNX Conv."""
        w = self.weights[f"{prefix}/{kernel}"]
        if group > 1:  # depthwise: H×W×C×1 -> C×1×H×W
            w = w.transpose(2, 3, 0, 1)
        else:  # H×W×I×O -> O×I×H×W
            w = w.transpose(3, 2, 0, 1)
        k = w.shape[-1]
        inputs = [x, self.const(self.name(f"{prefix}/{kernel}"), w)]
        return self.op(
            "Conv", inputs, prefix, kernel_shape=[k, k], strides=[stride, stride],
            pads=same_pads(k, stride), group=group,
        )  # fmt: skip

    def bias(self, x: str, prefix: str) -> str:
        b = self.weights[f"{prefix}/bias"].reshape(1, -1, 1, 1)
        return self.op("Add", [x, self.const(self.name(f"{prefix}/bias"), b)], prefix)

    def plain_conv(self, x: str, prefix: str, stride: int) -> str:
        return self.bias(self.conv(x, prefix, "filters", stride), prefix)

    def separable(self, x: str, prefix: str, stride: int = 1) -> str:
        channels = self.weights[f"{prefix}/depthwise_filter"].shape[2]
        depthwise = self.conv(x, prefix, "depthwise_filter", stride, group=channels)
        return self.bias(self.conv(depthwise, prefix, "pointwise_filter", 1), prefix)

    def relu(self, x: str, out: str = "") -> str:
        return self.op("Relu", [x], "relu", out)

    def reduction(self, x: str, prefix: str, activate_input: bool = True) -> str:
        out = self.relu(x) if activate_input else x
        out = self.separable(out, f"{prefix}/separable_conv0")
        out = self.separable(self.relu(out), f"{prefix}/separable_conv1")
        out = self.op(
            "MaxPool", [out], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=same_pads(3, 2)
        )
        shortcut = self.plain_conv(x, f"{prefix}/expansion_conv", 2)
        return self.op("Add", [out, shortcut], prefix, out=prefix)

    def main_block(self, x: str, prefix: str) -> str:
        out = x
        for i in range(3):
            out = self.separable(self.relu(out), f"{prefix}/separable_conv{i}")
        return self.op("Add", [out, x], prefix, out=prefix)

    def dense(self, x: str, prefix: str) -> str:
        w = self.const(self.name(f"{prefix}/weights"), self.weights[f"{prefix}/weights"])
        b = self.const(self.name(f"{prefix}/bias"), self.weights[f"{prefix}/bias"])
        return self.op("Add", [self.op("MatMul", [x, w], prefix), b], prefix)

    def model(
        self,
        graph_name: str,
        outputs: dict[str, list[object]],
        metadata: dict[str, str] | None = None,
    ) -> onnx.ModelProto:
        """The checked ONNX model of the nodes so far: face-api's N×3×112×112 `input` in,
        `outputs` (name -> shape) out, `metadata` as model properties."""
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 112, 112])],
            [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in outputs.items()],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        for key, value in (metadata or {}).items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model)
        return model


def build(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    g = Graph(weights)
    x = g.relu(g.plain_conv("input", "entry_flow/conv_in", 2))
    x = g.reduction(x, "entry_flow/reduction_block_0", activate_input=False)
    x = g.reduction(x, "entry_flow/reduction_block_1")
    for i in range(2):
        x = g.main_block(x, f"middle_flow/main_block_{i}")
    x = g.reduction(x, "exit_flow/reduction_block")
    x = g.relu(g.separable(x, "exit_flow/separable_conv"), out="exit_flow/features")
    pooled = g.op("GlobalAveragePool", [x], "pool")  # 7×7 map, 7×7 valid pool = global
    flat = g.op("Flatten", [pooled], "flatten", axis=1)
    g.op("Identity", [g.dense(flat, "fc/age")], "age", out="age")
    g.op("Softmax", [g.dense(flat, "fc/gender")], "gender", out="gender", axis=1)
    return g.model("faceapi_age_gender", {"age": ["N", 1], "gender": ["N", 2]})


def check_against_faceapi(package: Path, model: Path, work: Path) -> tuple[float, float]:
    """Largest |ONNX − face-api| for age (years) and gender (probability), random input."""

    images = run_faceapi(package, work, "age_gender_model", "AgeGenderNet", AGE_GENDER_WRITES)
    age_js = np.fromfile(work / "age.f32", np.float32)
    gender_js = np.fromfile(work / "gender.f32", np.float32).reshape(-1, 2)
    age, gender = onnx_outputs(model, images)
    diffs = float(np.abs(age[:, 0] - age_js).max()), float(np.abs(gender - gender_js).max())
    if diffs[0] > 1e-3 or diffs[1] > 1e-5:  # float32 re-ordering noise is far below these
        raise RuntimeError(f"ONNX differs from face-api: age {diffs[0]}, gender {diffs[1]}")
    return diffs


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "facelens" / "weights" / OUT_NAME
    with tempfile.TemporaryDirectory() as tmp:
        package = faceapi_package(Path(tmp))
        onnx.save(build(read_weights(package / "model")), out)
        age_diff, gender_diff = check_against_faceapi(package, out, Path(tmp))
    provenance.record(
        OUT_NAME,
        f"npm {PACKAGE}",
        VERSION,
        "model/age_gender_model.bin + age_gender_model-weights_manifest.json",
        "MIT (package; upstream justadudewhohacks/face-api.js: MIT)",
        "uint8 weights dequantised (q·scale + min); TinyXception graph from face-api's "
        f"TypeScript written as ONNX opset {OPSET} nodes; max abs diff vs face-api (TF.js) "
        f"{age_diff:.1e} years, {gender_diff:.1e} gender probability",
    )
    print(f"wrote {out}; vs face-api: age {age_diff:.1e}, gender {gender_diff:.1e}")


if __name__ == "__main__":
    main()
