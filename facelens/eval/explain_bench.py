"""Speed of the explanation methods on one face (this machine's CPU, or a GPU via --device).

    python -m facelens.eval.explain_bench [--image PATH] [--repeats 5] [--device cuda]
        [--embedder fused|sface|dlib]

Times are medians of `repeats` warm runs of the map computation alone (detection, alignment
and faithfulness curves excluded; faithfulness is timed on its own). Targets from issue 5:
Grad-CAM ≤ 150 ms, occlusion 14×14 ≤ 500 ms, CorrRISE 1,000 masks ≤ 3 s (CPU);
CorrRISE 4,000 masks ≤ 200 ms (GPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from facelens.recognition.names import DEFAULT_EMBEDDER, EMBEDDER_NAMES

DEFAULT_IMAGE = Path("../shared/data/face_recognition/tests/test_images/obama.jpg")
DEFAULT_OTHER = Path("../shared/data/face_recognition/tests/test_images/obama2.jpg")


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm: model loading, allocator, oneDNN primitives
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 1)


def throughput(batch: int, network: str, seconds: float = 2.0) -> float:
    """One recognition network's images per second through ONNX Runtime at a batch size."""
    from facelens.explain import targets
    from facelens.recognition.registry import NETWORKS

    session = targets.onnx_model(NETWORKS[network].file_name)
    size = targets.EMBEDDINGS[network].template.size
    x = np.random.default_rng(0).random((batch, 3, size, size), np.float32) * 255
    session.run(x)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(x)
        done += batch
    return round(done / (time.perf_counter() - start), 1)


def run(image: Path, other: Path, repeats: int, device: str, masks: int, embedder: str) -> dict:
    from facelens.explain import faithfulness, targets
    from facelens.explain.api import (
        align,
        align_embedding,
        attribute_target,
        locate,
        similarity_target,
    )
    from facelens.explain.attribute_models import attribute_spec
    from facelens.explain.corrrise import CorrRISE
    from facelens.explain.gradcam import EmbeddingGradCAM, GradCAM, GradCAMPlusPlus
    from facelens.explain.gradient_pair import GradientPair
    from facelens.explain.occlusion import Occlusion

    rgb, face = locate(image)
    other_rgb, other_face = locate(other)
    embedded = align_embedding(rgb, face, embedder)
    chip = embedded.crop
    similarity = similarity_target(embedded, align_embedding(other_rgb, other_face, embedder))
    attribute = {}
    for name in targets.ATTRIBUTE_MODELS:  # the default models' (an expression ensemble's)
        spec = attribute_spec(name)
        crop = align(rgb, face, spec.template, spec.points).crop
        attribute[name] = (crop, attribute_target(name, crop, None, spec))
    options = {"device": device, "faithfulness": False}
    expression_crop, expression = attribute["expression"]
    times: dict[str, float] = {}
    for name, (crop, target) in attribute.items():
        times[f"gradcam_{name}_ms"] = _median_ms(
            lambda c=crop, t=target: GradCAM(**options).compute(c, t), repeats
        )
    times["gradcam++_expression_ms"] = _median_ms(
        lambda: GradCAMPlusPlus(**options).compute(expression_crop, expression), repeats
    )
    times["embedding_gradcam_similarity_ms"] = _median_ms(
        lambda: EmbeddingGradCAM(**options).compute(chip, similarity), repeats
    )
    times["occlusion_14x14_expression_ms"] = _median_ms(
        lambda: Occlusion(**options).compute(expression_crop, expression), repeats
    )
    times["occlusion_14x14_similarity_ms"] = _median_ms(
        lambda: Occlusion(**options).compute(chip, similarity), max(1, repeats // 2)
    )
    times[f"corrrise_{masks}_masks_one_image_ms"] = _median_ms(
        lambda: CorrRISE(masks=masks, **options).compute(chip, similarity), max(1, repeats // 2)
    )
    times["gradient_pair_one_image_ms"] = _median_ms(
        lambda: GradientPair(**options).compute(chip, similarity), repeats
    )
    saliency = np.random.default_rng(0).random(chip.shape[:2]).astype(np.float32)
    times["faithfulness_similarity_ms"] = _median_ms(
        lambda: faithfulness.evaluate(chip, saliency, similarity), max(1, repeats // 2)
    )
    times["faithfulness_expression_ms"] = _median_ms(
        lambda: faithfulness.evaluate(expression_crop, saliency[:64, :64], expression), repeats
    )
    return {
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "embedder": embedder,
        "network_images_per_second": {
            network: {f"batch_{b}": throughput(b, network) for b in (1, 16, 64)}
            for network in ("dlib", "sface")
        },
        **times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--other", type=Path, default=DEFAULT_OTHER, help="the pair's face B")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--masks", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER, choices=EMBEDDER_NAMES)
    args = parser.parse_args()
    report = run(args.image, args.other, args.repeats, args.device, args.masks, args.embedder)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
