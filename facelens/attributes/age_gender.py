"""Age and gender: face-api's AgeGenderNet (faceapi-age-gender.onnx), one network for both.

A TinyXception (Vincent Mühler's face-api, MIT; weights from npm @vladmandic/face-api) with
a 1-unit age regression in years and a male/female softmax. Crop: dlib chip 112×112,
padding 0.2, plus its mirror image, averaged. On the 3,000 UTKFace dev faces the padding
sweep 0.1 / 0.2 / 0.25 / 0.3 / 0.4 gave age MAE 5.06 / 4.82 / 4.94 / 5.02 / 5.55 with the
mirror (tools/experiments/age_gender_crops.py). Input: RGB, NCHW float32,
(value − channel mean) / 255, the normalisation face-api applies.
"""

from __future__ import annotations

import numpy as np

from facelens.attributes.base import AttributeModel
from facelens.attributes.crops import dlib_chip, view_batch, view_mean

CHANNEL_MEANS = np.array([122.782, 117.001, 104.298], np.float32)


class FaceApiAgeGender(AttributeModel):
    """N faces in: N ages in years and N probabilities of "female" out (one batched call
    for all views of all faces)."""

    file_name = "faceapi-age-gender.onnx"
    templates = (dlib_chip(112, 0.2),)
    flip = True
    labels = ("male", "female")  # the gender output's order

    def predict(self, rgb: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(points) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        chips = view_batch(rgb, points, self.templates, self.flip)
        age, gender = self.run(preprocess(chips))
        return view_mean(age[:, 0], len(points)), view_mean(gender, len(points))[:, 1]


def preprocess(chips: np.ndarray) -> np.ndarray:
    """N×S×S×3 RGB 0..255 -> the network's N×3×S×S input."""
    return ((chips.astype(np.float32) - CHANNEL_MEANS) / 255.0).transpose(0, 3, 1, 2)
