"""Milliseconds an image for each shipped network by batch size: where RUN_BATCH comes from.

    python -m facelens.eval.batch_bench [--images 64] [--json]

Each network runs `--images` random inputs per measurement, in calls of 1, 2, 4, ... 64
images, straight through ONNX Runtime (OnnxModel's session, without RUN_BATCH's chunking);
median of 5 passes. On a 2-core CPU bigger batches stop paying once a batch's activations
no longer fit in cache.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from facelens.models.onnx_model import RUN_BATCH, OnnxModel

BATCHES = (1, 2, 4, 8, 16, 32, 64)


def ms_per_image(model: OnnxModel, images: np.ndarray, batch: int, passes: int = 5) -> float:
    def one_pass() -> None:
        for start in range(0, len(images), batch):
            model.session.run(None, {model.input_name: images[start : start + batch]})

    one_pass()  # warm-up
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - started)
    return round(1000 * float(np.median(times)) / len(images), 2)


def run_batch_bench(images: int = 64) -> dict:
    rng = np.random.default_rng(0)
    report = {}
    for file_name in RUN_BATCH:
        model = OnnxModel(file_name)
        shape = [
            images,
            *(d if isinstance(d, int) else 1 for d in model.session.get_inputs()[0].shape[1:]),
        ]
        inputs = (rng.random(shape) * 255).astype(np.float32)
        by_batch = {b: ms_per_image(model, inputs, b) for b in BATCHES if b <= images}
        report[file_name] = {
            "ms_per_image": by_batch,
            "fastest_batch": min(by_batch, key=by_batch.__getitem__),
            "run_batch": RUN_BATCH[file_name],
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run_batch_bench(args.images)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for file_name, row in report.items():
        cells = ", ".join(f"{b}: {ms}" for b, ms in row["ms_per_image"].items())
        print(
            f"{file_name}: ms an image by batch {cells}; fastest {row['fastest_batch']}, "
            f"RUN_BATCH {row['run_batch']}"
        )


if __name__ == "__main__":
    main()
