"""The common base of the attribute networks."""

from __future__ import annotations

import os

from facelens.models.onnx_model import OnnxModel


class AttributeModel(OnnxModel):
    """An OnnxModel run on one intra-op thread unless FACELENS_THREADS says otherwise.

    These nets take 32-64 px crops: a thread pool gains them little, and its spinning
    threads cost a lot on a busy CPU (age + gender + expression for one face on 2 shared,
    loaded cores: 12 ms median on one thread, 65 ms on two).
    """

    def __init__(self, file_name: str | None = None, threads: int | None = None) -> None:
        super().__init__(file_name, threads or int(os.environ.get("FACELENS_THREADS", "1")))
