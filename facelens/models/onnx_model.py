"""A thin ONNX Runtime wrapper shared by every shipped network."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def weight_path(file_name: str) -> Path:
    """Path of a weight file shipped inside the package (never downloaded)."""
    path = WEIGHTS_DIR / file_name
    if not path.is_file():
        raise FileNotFoundError(
            f"shipped weight file {file_name!r} is missing from {WEIGHTS_DIR}; "
            "reinstall facelens or regenerate it with the scripts in tools/"
        )
    return path


# The batch size per ONNX Runtime call at which each shipped network runs fastest per image
# on a 2-core CPU (2 threads; bigger batches spill the activations from cache). Bigger
# batches run in chunks of this size (OnnxModel.run). `python -m facelens.eval.batch_bench`,
# 2026-12-01 10:06, ms an image at batch 1 / this size / 64:
RUN_BATCH = {
    "sface.onnx": 2,  # 9.0 / 7.8 / 11.9
    "dlib_resnet_v1.onnx": 16,  # 3.2 / 2.5 / 2.8
    "emotion.onnx": 16,  # 0.92 / 0.69 / 1.16
    "faceapi-age-gender.onnx": 8,  # 1.60 / 1.06 / 1.88
    "faceapi-age-gender-utk.onnx": 8,  # 1.59 / 1.09 / 2.05
    "facemesh.onnx": 8,  # 2.68 / 1.02 / 2.14
    "iris.onnx": 16,  # 2.44 / 1.63 / 1.52 (8-64 within noise; faces come 2 eyes at a time)
    # 2026-12-02 00:25: 1.71 / 1.42 / 2.96 (explanations' batches of 64 ran at the last)
    "faceapi-expression-fer.onnx": 16,
}


class OnnxModel:
    """One ONNX network, loaded once, run on the CPU with ONNX Runtime.

    Sessions are thread-safe for `run`, so one instance serves every thread.
    """

    file_name: str = ""
    # No arena by default: ONNX Runtime's grows to the largest batch and tiling it has seen and
    # never shrinks, so a server's memory crept up with the faces per image; plain malloc gives
    # it back (measured: 40 varied images, 303 -> 427 MB with the arena, 217 -> 257 MB
    # without, same speed within noise). A network with large, bounded inputs turns it on.
    memory_arena: bool = False

    def __init__(self, file_name: str | Path | None = None, threads: int | None = None) -> None:
        """file_name: a shipped weight file's name, or a Path to any ONNX file (a user's)."""
        name = file_name or self.file_name
        # the largest batch per ONNX Runtime call: RUN_BATCH's for a shipped file, else any
        self.run_batch: int | None = RUN_BATCH.get(Path(name).name)  # also a shipped file's path
        source = name if isinstance(name, Path) else weight_path(name)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or int(os.environ.get("FACELENS_THREADS", "0"))
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = self.memory_arena
        # No spin-waiting: ONNX Runtime's worker threads otherwise keep spinning after each
        # run, and the pipeline's sessions (detector, mesh, two embedders) then fight each
        # other for the 2 cores. `facelens bench` on a quiet machine: YuNet + fused 153 -> 61
        # ms, BlazeFace + fused 43 -> 24 ms, YuNet's detection alone 78 -> 45 ms.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(source), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the network on one batch (in chunks of `run_batch`, whose outputs must all be
        batch-major); returns every output in graph order."""
        step = self.run_batch
        if step is None or len(batch) <= step:
            return self._run(batch)
        chunks = [self._run(batch[i : i + step]) for i in range(0, len(batch), step)]
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]

    def _run(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: np.ascontiguousarray(batch)})


_shared: dict[type, OnnxModel] = {}
_shared_lock = threading.Lock()


def shared(model_class: type[OnnxModel]) -> OnnxModel:
    """The process-wide instance of a model class: each network loads once."""
    with _shared_lock:
        if model_class not in _shared:
            _shared[model_class] = model_class()
        return _shared[model_class]
