"""An expression ensemble is explained as a whole (facelens.explain.ensemble)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facelens import FaceLens
from facelens.attributes.expression import LABELS
from facelens.attributes.expression_choice import ensemble_temperature
from facelens.errors import FaceLensError
from facelens.explain import api
from facelens.explain.attribute_models import attribute_spec
from facelens.explain.ensemble import EnsembleSpec, EnsembleTarget
from facelens.explain.scores import ClassTarget

SHIPPED = "mini-xception+faceapi-fer"


@pytest.fixture(scope="module")
def faces(data_dir: Path) -> dict[str, Path]:
    folder = data_dir / "inspireface/test_res/emotion"
    return {name: folder / f"{name}.png" for name in ("happy", "sad", "anger")}


def test_the_target_is_the_mean_of_its_members_calibrated(faces) -> None:
    """On one crop, the ensemble's probabilities are the members' calibrated probabilities
    averaged (each member scored on its own, the 64 px crop resized for the 48 px network),
    with the ensemble's temperature; ONNX Runtime and the torch twins agree."""
    spec = attribute_spec("expression", SHIPPED)
    assert (
        isinstance(spec, EnsembleSpec) and spec.temperature == ensemble_temperature(SHIPPED) == 0.75
    )
    rgb, face = api.locate(faces["happy"])
    crop = api.align(rgb, face, spec.template, spec.points).crop.astype(np.float32)
    small = (
        torch.nn.functional.interpolate(
            torch.from_numpy(crop).permute(2, 0, 1)[None],
            size=(48, 48),
            mode="bilinear",
            antialias=True,
        )[0]
        .permute(1, 2, 0)
        .numpy()
    )
    members = []
    for member, temperature, member_crop in zip(
        spec.members, spec.member_temperatures, (crop, small), strict=True
    ):
        raw = np.array(
            [ClassTarget("expression", i, member).scores(member_crop[None])[0] for i in range(7)]
        )
        in_labels = raw[[member.labels.index(label) for label in LABELS]]
        powered = in_labels ** (1 / temperature)
        members.append(powered / powered.sum())
    powered = np.mean(members, 0) ** (1 / spec.temperature)
    expected = powered / powered.sum()
    got = EnsembleTarget(spec, 0).probabilities(crop[None])[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    with torch.no_grad():
        twin = [
            float(
                EnsembleTarget(spec, i).torch_scores(torch.from_numpy(crop).permute(2, 0, 1)[None])[
                    0
                ]
            )
            for i in range(7)
        ]
    np.testing.assert_allclose(twin, got, atol=1e-4)


def test_grad_cam_and_occlusion_explain_what_the_ensemble_answers(faces) -> None:
    """The explained class is the one analyze answers from all its views, for the ensemble
    and the default (on the sad sample the ensemble's top class on the one explained view is
    another)."""
    for name, path in faces.items():
        for model in (SHIPPED, None):
            lens = FaceLens() if model is None else FaceLens(attribute_models={"expression": model})
            answered = lens.analyze(path).faces[0].expression
            assert answered is not None
            cam = api.gradcam(path, "expression", model=model, faithfulness=False)
            assert cam.target.startswith(f"expression:{answered.label}"), (name, model)
        assert cam.crop_map.shape == (64, 64) and cam.crop_map.std() > 0
    cam = api.gradcam(faces["sad"], "expression", model=SHIPPED, faithfulness=False)
    assert cam.target.endswith(f" ({SHIPPED})")
    assert cam.layer == "mini-xception:StatefulPartitionedCall/model_1/add_2/add:0"
    # mini-Xception's layer is the default whatever the members' order (the more faithful)
    reversed_order = api.gradcam(
        faces["sad"], "expression", model="faceapi-fer+mini-xception", faithfulness=False
    )
    assert reversed_order.layer == cam.layer
    # any member's tensor can be asked for; the map is then on that member's features
    other = api.gradcam(
        faces["sad"],
        "expression",
        model=SHIPPED,
        layer="faceapi-fer:/Relu_7_output_0",
        faithfulness=False,
    )
    assert other.layer == "faceapi-fer:/Relu_7_output_0" and other.target == cam.target
    assert other.crop_map.std() > 0 and not np.allclose(other.crop_map, cam.crop_map)
    occluded = api.occlusion(faces["happy"], "expression", model=SHIPPED, class_name="happy")
    assert occluded.target == f"expression:happy ({SHIPPED})"
    # hiding the most supporting region lowers the ensemble's happiness more than hiding
    # the least supporting one (the map is of the ensemble's own score)
    assert occluded.faithfulness is not None
    assert occluded.faithfulness.deletion_auc < occluded.faithfulness.insertion_auc


def test_an_unknown_layer_names_the_members_layers(faces) -> None:
    with pytest.raises(FaceLensError, match="mini-xception:StatefulPartitionedCall") as error:
        api.gradcam(
            faces["happy"],
            "expression",
            model=SHIPPED,
            layer="/Relu_7_output_0",
            faithfulness=False,
        )
    assert "members' ONNX graphs (as member:tensor)" in str(error.value)
