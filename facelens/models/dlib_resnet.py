"""PyTorch port of dlib's 128-d face-recognition ResNet (dlib_face_recognition_resnet_model_v1).

The layer layout reproduces dlib's `anet_type` (dnn_face_recognition_ex.cpp) exactly, including
two dlib quirks that matter for parity:

* dlib's `con`/`max_pool`/`avg_pool` pad by k/2 only when the stride is 1; strided layers use no
  padding at all, and output sizes are floor(1 + (n - k) / stride).
* `add_prev` sums tensors of different shapes by zero-padding both to the larger one at the
  end (extra channels, bottom rows, right columns). This happens in every down-sampling
  block (more channels in the residual branch), and in level1 and level0, where the strided
  conv gives 3x3 and 1x1 but the average-pooled skip gives 4x4 and 2x2.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# dlib's input_rgb_image_sized<150> defaults; overwritten by the values stored in the weights.
_DLIB_MEANS = (122.782, 117.001, 104.298)


class Affine(nn.Module):
    """dlib's `affine` layer: per-channel scale and shift (a batch norm frozen into two vectors).

    Parameters are stored as 1 x C x 1 x 1 so the exported ONNX graph uses them unchanged as
    initializers (no folded reshape that would rename them).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


def _conv(cin: int, cout: int, k: int, stride: int) -> nn.Conv2d:
    # dlib pads k//2 only for stride 1 (see the module docstring).
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2 if stride == 1 else 0)


class ResBlock(nn.Module):
    """dlib's `ares` / `ares_down`: relu(bn2(conv2(relu(bn1(conv1(x))))) + skip(x))."""

    def __init__(self, cin: int, cout: int, down: bool, size: int = 0) -> None:
        super().__init__()
        self.down = down
        # dlib's add_prev zero-pads both inputs to the larger shape at the end of each dim.
        # The pooled skip lacks the new channels; the unpadded strided conv gives
        # floor((n-1)/2) rows vs the pool's floor(n/2), one short for even n (8 -> 3 vs 4,
        # 4 -> 1 vs 2). Static pads: no shape-dependent logic in the traced ONNX graph.
        self.skip_pad = (0, 0, 0, 0, 0, cout - cin)
        self.conv_pad = (0, 1 - size % 2, 0, 1 - size % 2)
        self.conv1 = _conv(cin, cout, 3, 2 if down else 1)
        self.bn1 = Affine(cout)
        self.conv2 = _conv(cout, cout, 3, 1)
        self.bn2 = Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if not self.down:
            return F.relu(y + x)
        skip = F.pad(F.avg_pool2d(x, 2, 2), self.skip_pad)
        return F.relu(F.pad(y, self.conv_pad) + skip)


def _level(cin: int, cout: int, n_plain: int, down: bool, size: int = 0) -> nn.Sequential:
    """`size` is the level's input height/width, needed by its down-sampling block."""
    blocks = [ResBlock(cin, cout, True, size)] if down else []
    blocks += [ResBlock(cout, cout, False) for _ in range(n_plain)]
    return nn.Sequential(*blocks)


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet-29 (input 150x150 RGB chip, output 128-d descriptor).

    Input: float N x 3 x 150 x 150, RGB, 0..255 (an aligned chip as `dlib.get_face_chip(...,
    size=150, padding=0.25)` makes). The module subtracts dlib's channel means and divides by
    256 itself. Output: N x 128, dlib's raw descriptor (not re-normalised).

    Grad-CAM targets any level by name; `facelens.explain.targets` says which is the default
    and why.
    Submodules in forward order: `stem` (conv 7x7/2, affine, relu, max-pool 3x3/2), `level4`
    (32 ch, 35x35), `level3` (64, 17x17), `level2` (128, 8x8), `level1` (256, 4x4),
    `level0` (256, 2x2), then the mean over space and `fc` (bias-free linear 256 -> 128).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(_DLIB_MEANS).view(1, 3, 1, 1))
        self.stem = nn.Sequential(_conv(3, 32, 7, 2), Affine(32), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.level4 = _level(32, 32, 3, down=False)
        # input sizes are fixed by dlib's 150x150 input: 150 -> 72 -> 35 -> 17 -> 8 -> 4 -> 2
        self.level3 = _level(32, 64, 3, down=True, size=35)
        self.level2 = _level(64, 128, 2, down=True, size=17)
        self.level1 = _level(128, 256, 2, down=True, size=8)
        self.level0 = _level(256, 256, 0, down=True, size=4)
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = (image - self.mean) / 256.0  # dlib: (pixel - avg) / 256, exact in float32
        x = self.stem(x)
        x = self.level0(self.level1(self.level2(self.level3(self.level4(x)))))
        return self.fc(x.mean(dim=(2, 3)))  # avg_pool_everything, then fc_no_bias


def load_dlib_resnet(onnx_path: str | Path) -> DlibResNet:
    """Build a DlibResNet from the shipped ONNX file's initializers (named as state_dict keys)."""
    import onnx
    from onnx import numpy_helper

    model = DlibResNet()
    graph = onnx.load(str(onnx_path)).graph
    tensors = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
    state = {key: tensors[key] for key in model.state_dict()}  # KeyError = wrong/foreign file
    model.load_state_dict(state, strict=True)
    return model.eval()
