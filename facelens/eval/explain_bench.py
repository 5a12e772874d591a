"""Speed of the explanation methods on one face (this machine's CPU, or a GPU via --device).

    python -m facelens.eval.explain_bench [--image PATH] [--repeats 5] [--device cuda]

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


def throughput(batch: int, seconds: float = 2.0) -> float:
    """Embedder images per second through ONNX Runtime at one batch size."""
    from facelens.explain import targets
    from facelens.recognition.dlib import DlibEmbedder

    session = targets.onnx_model(DlibEmbedder.file_name)
    x = np.random.default_rng(0).random((batch, 3, 150, 150), np.float32) * 255
    session.run(x)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(x)
        done += batch
    return round(done / (time.perf_counter() - start), 1)


def run(image: Path, other: Path, repeats: int, device: str, masks: int) -> dict:
    from facelens.explain import faithfulness, targets
    from facelens.explain.api import align, align_embedding, class_target, embedding_of, locate
    from facelens.explain.corrrise import CorrRISE
    from facelens.explain.gradcam import EmbeddingGradCAM, GradCAM, GradCAMPlusPlus
    from facelens.explain.gradient_pair import GradientPair
    from facelens.explain.occlusion import Occlusion
    from facelens.explain.scores import SimilarityTarget

    rgb, face = locate(image)
    other_rgb, other_face = locate(other)
    chip = align_embedding(rgb, face).crop
    other_chip = align_embedding(other_rgb, other_face).crop
    similarity = SimilarityTarget(embedding_of(other_chip), reference_crop=other_chip)
    attribute = {}
    for name, spec in targets.ATTRIBUTE_MODELS.items():
        crop = align(rgb, face, spec.template, spec.points).crop
        attribute[name] = (crop, class_target(name, crop, None))
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
        "embedder_images_per_second": {f"batch_{b}": throughput(b) for b in (1, 16, 64)},
        **times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--other", type=Path, default=DEFAULT_OTHER, help="the pair's face B")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--masks", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(json.dumps(run(args.image, args.other, args.repeats, args.device, args.masks), indent=2))


if __name__ == "__main__":
    main()
