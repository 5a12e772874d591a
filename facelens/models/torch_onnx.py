"""Run an ONNX graph with torch operations, so that gradients flow through a shipped model.

A small interpreter, not a converter: initializers become buffers (they move with `.to()`),
nodes run in graph order, and any tensor named in the graph can be captured (the Grad-CAM
target layer is named by its ONNX tensor name). Only the operators the shipped face models
use are implemented; an unknown one fails loudly at load time, never silently at run time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor
Op = Callable[[list[Tensor | None], dict[str, Any]], Tensor | list[Tensor]]

_DTYPES = {
    1: torch.float32,
    6: torch.int32,
    7: torch.int64,
    9: torch.bool,
    10: torch.float16,
    11: torch.float64,
}


def _ints(t: Tensor | None) -> list[int]:
    return [] if t is None else [int(v) for v in t.reshape(-1).tolist()]


def _spatial_pad(x: Tensor, pads: list[int], value: float) -> tuple[Tensor, list[int]]:
    """Apply ONNX pads [begin..., end...] explicitly unless symmetric; returns torch padding."""
    n = len(pads) // 2
    begin, end = pads[:n], pads[n:]
    if begin == end:
        return x, begin
    torch_pads: list[int] = []
    for b, e in zip(reversed(begin), reversed(end), strict=True):
        torch_pads += [b, e]
    return F.pad(x, torch_pads, value=value), [0] * n


def _conv(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x, w, b = i[0], i[1], i[2] if len(i) > 2 else None
    assert x is not None and w is not None
    pads = a.get("pads", [0] * (2 * (w.dim() - 2)))
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        raise NotImplementedError("Conv auto_pad SAME_* is not supported")
    x, pad = _spatial_pad(x, pads, 0.0)
    return F.conv2d(x, w, b, a.get("strides", 1), pad, a.get("dilations", 1), a.get("group", 1))


def _max_pool(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    k = a["kernel_shape"]
    x, pad = _spatial_pad(x, a.get("pads", [0] * 2 * len(k)), -math.inf)
    if any(p > kk // 2 for p, kk in zip(pad, k, strict=True)):  # torch's limit: pad by hand
        x, pad = F.pad(x, [p for p in reversed(pad) for _ in (0, 1)], value=-math.inf), [0, 0]
    return F.max_pool2d(
        x, k, a.get("strides", k), pad, a.get("dilations", 1), ceil_mode=bool(a.get("ceil_mode", 0))
    )


def _avg_pool(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    k = a["kernel_shape"]
    pads = a.get("pads", [0] * 2 * len(k))
    if pads[: len(k)] != pads[len(k) :]:
        raise NotImplementedError("AveragePool with asymmetric pads is not supported")
    return F.avg_pool2d(
        x,
        k,
        a.get("strides", k),
        pads[: len(k)],
        ceil_mode=bool(a.get("ceil_mode", 0)),
        count_include_pad=bool(a.get("count_include_pad", 0)),
    )


def _gemm(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x, w, c = i[0], i[1], i[2] if len(i) > 2 else None
    assert x is not None and w is not None
    x = x.t() if a.get("transA", 0) else x
    w = w.t() if a.get("transB", 0) else w
    y = a.get("alpha", 1.0) * (x @ w)
    return y if c is None else y + a.get("beta", 1.0) * c


def _reshape(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    shape = _ints(i[1])
    if not a.get("allowzero", 0):  # 0 copies the input's dimension
        shape = [x.shape[d] if s == 0 else s for d, s in enumerate(shape)]
    return x.reshape(shape)


def _pad(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    pads = _ints(i[1]) if len(i) > 1 else a["pads"]
    value = float(i[2].item()) if len(i) > 2 and i[2] is not None and i[2].numel() else 0.0
    axes = _ints(i[3]) if len(i) > 3 and i[3] is not None else list(range(x.dim()))
    axes = [ax % x.dim() for ax in axes]
    full = [0] * (2 * x.dim())
    for n, ax in enumerate(axes):
        full[ax], full[ax + x.dim()] = pads[n], pads[n + len(axes)]
    torch_pads: list[int] = []
    for ax in reversed(range(x.dim())):
        torch_pads += [full[ax], full[ax + x.dim()]]
    mode = a.get("mode", b"constant").decode()
    mode = {"edge": "replicate"}.get(mode, mode)
    if mode != "constant":
        return F.pad(x, torch_pads, mode=mode)
    return F.pad(x, torch_pads, value=value)


def _slice(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    starts, ends = _ints(i[1]), _ints(i[2])
    axes = _ints(i[3]) if len(i) > 3 and i[3] is not None else list(range(len(starts)))
    steps = _ints(i[4]) if len(i) > 4 and i[4] is not None else [1] * len(starts)
    for s, e, ax, st in zip(starts, ends, axes, steps, strict=True):
        # Python's slice rules are ONNX's (clamping, negative indices, negative steps).
        kept = range(*slice(s, e, st).indices(x.shape[ax]))
        x = x.index_select(ax, torch.tensor(kept, dtype=torch.long, device=x.device))
    return x


def _gather(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x, idx = i[0], i[1]
    assert x is not None and idx is not None
    ax = a.get("axis", 0) % x.dim()
    flat = idx.reshape(-1).long() % x.shape[ax]
    out = x.index_select(ax, flat)
    return out.reshape([*x.shape[:ax], *idx.shape, *x.shape[ax + 1 :]])  # [] for a scalar


def _axes(i: list[Tensor | None], a: dict[str, Any]) -> list[int] | None:
    if len(i) > 1 and i[1] is not None:
        return _ints(i[1])
    return a.get("axes")


def _squeeze(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    axes = _axes(i, a)
    if axes is None:
        return x.squeeze()
    return x.squeeze(tuple(ax % x.dim() for ax in axes))


def _unsqueeze(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    axes = _axes(i, a) or []
    rank = x.dim() + len(axes)
    for ax in sorted(ax % rank for ax in axes):
        x = x.unsqueeze(ax)
    return x


def _reduce_mean(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    axes = _axes(i, a) or list(range(x.dim()))
    return x.mean(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))


def _div(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x, y = i[0], i[1]
    assert x is not None and y is not None
    if not x.is_floating_point() and not y.is_floating_point():  # ONNX integer division
        return torch.div(x, y, rounding_mode="trunc")
    return x / y


def _clip(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    low = i[1] if len(i) > 1 and i[1] is not None else a.get("min")
    high = i[2] if len(i) > 2 and i[2] is not None else a.get("max")
    return torch.clamp(x, low, high)


def _batch_norm(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x, scale, bias, mean, var = i[:5]
    assert x is not None
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, a.get("epsilon", 1e-5))


def _variadic(fn: Callable[[Tensor, Tensor], Tensor]) -> Op:
    def run(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
        out = i[0]
        assert out is not None
        for other in i[1:]:
            assert other is not None
            out = fn(out, other)
        return out

    return run


def _unary(fn: Callable[[Tensor], Tensor]) -> Op:
    return lambda i, a: fn(i[0])  # type: ignore[arg-type]


def _shape(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    dims = list(x.shape)[a.get("start", 0) : a.get("end", x.dim())]
    return torch.tensor(dims, dtype=torch.int64, device=x.device)


def _flatten(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    x = i[0]
    assert x is not None
    axis = a.get("axis", 1) % (x.dim() + 1)
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _constant_of_shape(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    shape = i[0]
    assert shape is not None
    value = a.get("value")
    fill = torch.zeros(1) if value is None else torch.from_numpy(value.copy())
    return torch.full(_ints(shape), fill.item(), dtype=fill.dtype, device=shape.device)


def _resize(i: list[Tensor | None], a: dict[str, Any]) -> Tensor:
    """Linear (bilinear) resizing to `sizes` or by `scales`, as torch.onnx.export writes
    F.interpolate(..., mode="bilinear", align_corners=False): half-pixel centres."""
    x = i[0]
    assert x is not None
    mode, where = a.get("mode", b"nearest"), a.get("coordinate_transformation_mode", b"half_pixel")
    if mode != b"linear" or where not in (b"half_pixel", b"pytorch_half_pixel"):
        raise NotImplementedError(f"Resize mode {mode!r} with {where!r} is not supported")
    sizes = i[3] if len(i) > 3 else None
    if sizes is not None and sizes.numel():
        return F.interpolate(x, size=_ints(sizes)[2:], mode="bilinear", align_corners=False)
    scales = i[2]
    assert scales is not None
    factors = [float(v) for v in scales.reshape(-1).tolist()[2:]]
    return F.interpolate(x, scale_factor=factors, mode="bilinear", align_corners=False)


OPS: dict[str, Op] = {
    "Conv": _conv,
    "Resize": _resize,
    "MaxPool": _max_pool,
    "AveragePool": _avg_pool,
    "GlobalAveragePool": lambda i, a: i[0].mean(dim=(2, 3), keepdim=True),  # type: ignore[union-attr]
    "GlobalMaxPool": lambda i, a: i[0].amax(dim=(2, 3), keepdim=True),  # type: ignore[union-attr]
    "Gemm": _gemm,
    "MatMul": lambda i, a: torch.matmul(i[0], i[1]),  # type: ignore[arg-type]
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": lambda i, a: i[0].permute(a.get("perm", list(range(i[0].dim()))[::-1])),  # type: ignore[union-attr]
    "Pad": _pad,
    "Slice": _slice,
    "Gather": _gather,
    "Concat": lambda i, a: torch.cat(i, dim=a["axis"]),  # type: ignore[arg-type]
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "ReduceMean": _reduce_mean,
    "Softmax": lambda i, a: torch.softmax(i[0], dim=a.get("axis", -1)),  # type: ignore[arg-type]
    "BatchNormalization": _batch_norm,
    "Add": _variadic(torch.add),
    "Sub": _variadic(torch.sub),
    "Mul": _variadic(torch.mul),
    "Div": _div,
    "Min": _variadic(torch.minimum),
    "Max": _variadic(torch.maximum),
    "Relu": _unary(torch.relu),
    "Sigmoid": _unary(torch.sigmoid),
    "Tanh": _unary(torch.tanh),
    "Erf": _unary(torch.erf),  # GELU, as torch.onnx.export writes it
    "Identity": _unary(lambda x: x),
    "LeakyRelu": lambda i, a: F.leaky_relu(i[0], a.get("alpha", 0.01)),  # type: ignore[arg-type]
    "PRelu": lambda i, a: torch.where(i[0] >= 0, i[0], i[0] * i[1]),  # type: ignore[operator,arg-type]
    "Clip": _clip,
    "Shape": _shape,
    "Cast": lambda i, a: i[0].to(_DTYPES[a["to"]]),  # type: ignore[union-attr]
    "ConstantOfShape": _constant_of_shape,
}


class OnnxTorch(nn.Module):
    """An ONNX graph executed with torch operations (eager, differentiable, any device).

    `forward(*inputs)` returns the graph outputs (a tensor, or a tuple for several);
    `run(inputs, capture=[names])` also returns the named intermediate tensors, still
    attached to the autograd graph, which is what Grad-CAM needs.
    """

    def __init__(self, model: str | Path | Any, trainable: bool = False) -> None:
        """trainable: the float weight tensors become parameters (fine-tuning), not buffers."""
        import onnx
        from onnx import helper, numpy_helper

        proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
        graph = proto.graph
        super().__init__()
        self._buffer_of: dict[str, str] = {}  # ONNX tensor name -> buffer attribute
        for tensor in graph.initializer:
            self._add_constant(tensor.name, numpy_helper.to_array(tensor), trainable)
        initialised = {t.name for t in graph.initializer}
        self.input_names = [v.name for v in graph.input if v.name not in initialised]
        self.output_names = [v.name for v in graph.output]
        self.nodes: list[tuple[str, list[str], list[str], dict[str, Any]]] = []
        for node in graph.node:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            attrs = {
                k: numpy_helper.to_array(v) if hasattr(v, "raw_data") else v
                for k, v in attrs.items()
            }
            if node.op_type == "Constant":  # folded now: no op at run time
                self._add_constant(node.output[0], _constant_value(attrs))
                continue
            if node.op_type not in OPS:
                raise NotImplementedError(f"ONNX operator {node.op_type} is not implemented")
            self.nodes.append((node.op_type, list(node.input), list(node.output), attrs))
        self.tensor_names = {o for _, _, outs, _ in self.nodes for o in outs}
        # Last node that reads each tensor: intermediates are dropped after it (memory).
        self._last_use = {name: n for n, (_, ins, _, _) in enumerate(self.nodes) for name in ins}

    def _add_constant(self, name: str, array: np.ndarray, trainable: bool = False) -> None:
        key = f"c{len(self._buffer_of)}"
        value = torch.from_numpy(np.array(array, copy=True))
        if trainable and value.dtype == torch.float32 and value.numel() > 1:
            self.register_parameter(key, nn.Parameter(value))
        else:
            self.register_buffer(key, value, persistent=False)
        self._buffer_of[name] = key

    def initializer(self, name: str) -> Tensor:
        """The current value of the graph's initializer `name` (a parameter when trainable)."""
        return getattr(self, self._buffer_of[name])

    def run(
        self, inputs: Sequence[Tensor], capture: Iterable[str] = ()
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """Graph outputs and the captured tensors (by ONNX name)."""
        wanted = set(capture)
        unknown = wanted - self.tensor_names - set(self.input_names)
        if unknown:
            raise KeyError(f"no tensor named {sorted(unknown)} in this graph")
        keep = wanted | set(self.output_names)
        env: dict[str, Tensor] = dict(zip(self.input_names, inputs, strict=True))
        for n, (op, ins, outs, attrs) in enumerate(self.nodes):
            args = [self._value(name, env) if name else None for name in ins]
            result = OPS[op](args, attrs)
            for name, value in zip(
                outs, result if isinstance(result, list) else [result], strict=False
            ):
                env[name] = value
            for name in ins:
                if self._last_use.get(name) == n and name in env and name not in keep:
                    del env[name]
        captured = {name: env[name] for name in wanted}
        return [env[name] for name in self.output_names], captured

    def _value(self, name: str, env: dict[str, Tensor]) -> Tensor:
        if name in env:
            return env[name]
        return getattr(self, self._buffer_of[name])

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        outputs, _ = self.run(inputs)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _constant_value(attrs: dict[str, Any]) -> np.ndarray:
    if "value" in attrs:
        return np.asarray(attrs["value"])
    for key, dtype in (
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    raise NotImplementedError(f"Constant with attributes {sorted(attrs)}")
