"""The common base of the attribute networks."""

from __future__ import annotations

from facelens.models.onnx_model import OnnxModel


class AttributeModel(OnnxModel):
    """An attribute network: an OnnxModel with ONNX Runtime's thread pool like the rest.

    They ran on one thread while ONNX Runtime's threads spin-waited (two threads then cost a
    loaded machine 65 ms against 12 for one face). Without spinning (OnnxModel), two threads
    are faster: age + gender + expression for one face 6.8-7.0 ms against 10.3-10.4 on one thread
    (`python -m facelens.eval.attributes_bench`, quiet 2-core machine, 2026-12-01).
    FACELENS_THREADS still sets every network's threads.
    """
