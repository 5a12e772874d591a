"""The shipped weights: each file has a provenance entry, and its bytes are the recorded ones."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import facelens

WEIGHTS = Path(facelens.__file__).parent / "weights"
FIELDS = {"source_package", "source_version", "original_file", "license", "sha256", "conversion"}


def test_every_weight_file_has_matching_provenance() -> None:
    entries = json.loads((WEIGHTS / "PROVENANCE.json").read_text())
    files = {p.name for p in WEIGHTS.glob("*.onnx")}
    assert files and files == set(entries), "weights and PROVENANCE.json list different files"
    for name, entry in entries.items():
        assert FIELDS <= set(entry) and all(entry[f] for f in FIELDS), name
        digest = hashlib.sha256((WEIGHTS / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name} differs from its recorded sha256"
    rendered = (WEIGHTS / "PROVENANCE.md").read_text()
    assert all(entry["sha256"] in rendered for entry in entries.values())


def test_converted_graphs_get_the_same_names_whatever_the_converter_called_them() -> None:
    """tools.onnx_rewrite.stable_names: two copies of one graph whose inner names differ (as
    tf2onnx's do between runs) serialise to the same bytes; interface and kept names stay."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from tools.onnx_rewrite import stable_names

    def graph(suffix: int, pool: str) -> bytes:
        n = suffix
        weight = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), f"w__{suffix}")
        nodes = [
            helper.make_node(
                "Conv", ["input", weight.name], [f"conv__{suffix}"], name=f"c{suffix}"
            ),
            helper.make_node("Relu", [f"conv__{suffix}"], ["layer:0"], name=f"r{n}"),
            helper.make_node("MaxPool", ["layer:0"], ["output"], name=pool, kernel_shape=[1, 1]),
        ]
        value = helper.make_tensor_value_info
        model = helper.make_model(
            helper.make_graph(
                nodes,
                "g",
                [value("input", TensorProto.FLOAT, [1, 1, 4, 4])],
                [value("output", TensorProto.FLOAT, [1, 1, 4, 4])],
                [weight],
            )
        )
        return stable_names(model, {"layer:0"}).SerializeToString()

    first, second = graph(4451, "max_pooling2d_5"), graph(4452, "max_pooling2d_6")
    assert first == second
    assert b"layer:0" in first and b"input" in first and b"output" in first
    assert b"4451" not in first and b"max_pooling2d" not in first


def test_batch_bench_times_every_network_with_a_run_batch() -> None:
    from facelens.eval.batch_bench import run_batch_bench
    from facelens.models.onnx_model import RUN_BATCH

    report = run_batch_bench(images=2)
    assert set(report) == set(RUN_BATCH)
    for file_name, row in report.items():
        assert set(row["ms_per_image"]) == {1, 2} and row["run_batch"] == RUN_BATCH[file_name]
        assert all(ms > 0 for ms in row["ms_per_image"].values())


def test_a_shipped_network_opened_by_path_keeps_its_run_batch() -> None:
    """Explanations open trained expression networks by path (weight_path's): the shipped
    one still runs in RUN_BATCH's batches (1.4 against 3.0 ms an image in batches of 64)."""
    from facelens.models.onnx_model import RUN_BATCH, OnnxModel, weight_path

    name = "faceapi-expression-fer.onnx"
    assert OnnxModel(weight_path(name)).run_batch == RUN_BATCH[name] == 16
    assert OnnxModel(name).run_batch == 16
