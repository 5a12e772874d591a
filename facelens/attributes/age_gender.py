"""Age and gender: face-api's AgeGenderNet (faceapi-age-gender.onnx), one network for both.

A TinyXception (Vincent Mühler's face-api, MIT; weights from npm @vladmandic/face-api) with
a 1-unit age regression in years and a male/female softmax. Crop: dlib chip 112×112,
padding 0.2, plus its mirror image, averaged. On the 3,000 UTKFace dev faces the padding
sweep 0.1 / 0.2 / 0.25 / 0.3 / 0.4 gave age MAE 5.06 / 4.82 / 4.94 / 5.02 / 5.55 with the
mirror (tools/experiments/age_gender_crops.py). Input: RGB, NCHW float32,
(value − channel mean) / 255, the normalisation face-api applies.

The same graph fine-tuned here (`facelens train crop`; shipped: faceapi-age-gender-utk.onnx,
built-in name "faceapi-utk") carries `facelens.target` = age-gender and its own residual
table for the age interval in its metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.attributes.age import RESIDUAL_QUANTILES, ResidualTable, parse_residual_table
from facelens.attributes.base import AttributeModel
from facelens.attributes.crops import dlib_chip, view_batch, view_mean
from facelens.errors import ErrorCode, FaceLensError

CHANNEL_MEANS = np.array([122.782, 117.001, 104.298], np.float32)
CROP_TARGET = "age-gender"  # metadata target of a fine-tuned copy
FINE_TUNED_FILE = "faceapi-age-gender-utk.onnx"


class FaceApiAgeGender(AttributeModel):
    """N faces in: N ages in years and N probabilities of "female" out (one batched call
    for all views of all faces)."""

    file_name = "faceapi-age-gender.onnx"
    templates = (dlib_chip(112, 0.2),)
    flip = True
    labels = ("male", "female")  # the gender output's order
    residual_quantiles: ResidualTable = RESIDUAL_QUANTILES  # of the age output

    def __init__(self, file_name: str | Path | None = None) -> None:
        """No file: face-api's own weights; else a fine-tuned copy (checked by its metadata)."""
        super().__init__(file_name)
        if file_name is None:
            return
        meta = self.session.get_modelmeta().custom_metadata_map
        table = parse_residual_table(meta.get("facelens.age_residual_quantiles", ""))
        if meta.get("facelens.target") != CROP_TARGET or not table:
            raise FaceLensError(
                ErrorCode.BAD_ARGUMENT,
                f"{file_name} is not a facelens age/gender crop network (`facelens train crop`)",
            )
        self.residual_quantiles = table

    def predict(self, rgb: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(points) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        chips = view_batch(rgb, points, self.templates, self.flip)
        age, gender = self.run(preprocess(chips))
        return view_mean(age[:, 0], len(points)), view_mean(gender, len(points))[:, 1]


def preprocess(chips: np.ndarray) -> np.ndarray:
    """N×S×S×3 RGB 0..255 -> the network's N×3×S×S input."""
    return ((chips.astype(np.float32) - CHANNEL_MEANS) / 255.0).transpose(0, 3, 1, 2)
