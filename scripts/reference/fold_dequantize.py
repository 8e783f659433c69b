#!/usr/bin/env python3
"""Folds an ONNX model's constant DequantizeLinear nodes into float32 weights and, optionally,
rewrites PRelu into operations onnxruntime runs fast.

The int8 block-quantised SFace export dequantises its weights on every inference (its
initializers are also declared as graph inputs, so onnxruntime may not constant-fold them)
and declares 29 weight inputs the graph never reads. Folding gives the same network with
float32 weights: same outputs, several times faster, and loadable by OpenCV's DNN too.

onnxruntime's PRelu (per-channel slope) is a slow generic broadcast kernel, and neither PRelu
nor Min/Max has a blocked (NCHWc) kernel, so each one also costs two layout reorders around
it. The modes (figures in docs/FACE-MATCHING.md, "SFace speed"):

  --prelu=relu-min  Relu(x) + Min(x, 0) * slope: exact, 4 ops, NCHW (the kiosk model until 2026-11).
  --prelu=max       Max(x, slope * x) with the sign of slope > 1 channels folded into the
                    neighbouring Convs: exact (bit-identical), 2 ops, still NCHW.
  --prelu=nchwc     Relu(x') + t * x' where x' = (1 - slope) * x is folded into the producing
                    BatchNormalization/Conv and t = slope / (1 - slope): onnxruntime keeps the
                    whole network in NCHWc (Relu stays blocked; Mul by a constant and the Add
                    become one depthwise 1x1 NCHWc Conv with a fused sum). Same network up to
                    float rounding (embeddings differ by ~1e-6). The kiosk model.

Usage: fold_dequantize.py [--prelu=relu-min|max|nchwc] SOURCE.onnx DESTINATION.onnx
Deterministic: the same source and pinned onnx/protobuf/numpy versions give the same bytes.
"""

import sys

import numpy as np
import onnx
from onnx import numpy_helper


def dequantize(x, scale, zero_point, axis, block_size):
    x = x.astype(np.float32)
    if block_size:
        # Each scale covers `block_size` consecutive elements along `axis`.
        scale = np.repeat(scale, block_size, axis=axis).take(range(x.shape[axis]), axis=axis)
        zero_point = np.repeat(zero_point, block_size, axis=axis).take(range(x.shape[axis]), axis=axis)
    elif scale.ndim == 1 and x.ndim > 1:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale, zero_point = scale.reshape(shape), zero_point.reshape(shape)
    return ((x - zero_point.astype(np.float32)) * scale.astype(np.float32)).astype(np.float32)


def fold(model):
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    kept_nodes, folded = [], 0
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in initializers for i in node.input if i):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            arrays = [numpy_helper.to_array(initializers[i]) for i in node.input]
            x, scale = arrays[0], arrays[1]
            zero_point = arrays[2] if len(arrays) > 2 else np.zeros_like(scale, dtype=x.dtype)
            axis = attrs.get("axis", 1)
            axis = axis + x.ndim if axis < 0 else axis
            value = dequantize(x, scale, zero_point, axis, attrs.get("block_size", 0))
            graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
            folded += 1
        else:
            kept_nodes.append(node)
    del graph.node[:]
    graph.node.extend(kept_nodes)

    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    live_inits = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live_inits)
    init_names = {init.name for init in live_inits}
    # Keep only real inputs: used by the graph and not weights.
    real_inputs = [i for i in graph.input if i.name in used and i.name not in init_names]
    del graph.input[:]
    graph.input.extend(real_inputs)
    return folded


def rewrite_prelu(model):
    """PRelu -> Relu(x) + Min(x, 0) * slope (exact). Returns how many were rewritten."""
    graph = model.graph
    zero = "prelu_zero"
    nodes, rewritten = [], 0
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        x, slope = node.input
        y = node.output[0]
        nodes += [
            onnx.helper.make_node("Relu", [x], [f"{y}_positive"]),
            onnx.helper.make_node("Min", [x, zero], [f"{y}_negative"]),
            onnx.helper.make_node("Mul", [f"{y}_negative", slope], [f"{y}_scaled"]),
            onnx.helper.make_node("Add", [f"{y}_positive", f"{y}_scaled"], [y]),
        ]
        rewritten += 1
    if rewritten and zero not in {init.name for init in graph.initializer}:
        graph.initializer.append(numpy_helper.from_array(np.zeros((1,), np.float32), zero))
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def _attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _drop_unused_initializers(graph):
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    live = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)


def fold_reshapes(model):
    """Replaces each Reshape of a constant by the reshaped constant, so that every Conv weight
    is an initializer the PRelu rewrites can edit. Returns how many were folded."""
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    kept, folded = [], 0
    for node in graph.node:
        if node.op_type == "Reshape" and all(i in initializers for i in node.input):
            data = numpy_helper.to_array(initializers[node.input[0]])
            shape = [int(d) for d in numpy_helper.to_array(initializers[node.input[1]])]
            if _attribute(node, "allowzero", 0) == 0:  # 0 copies the input's dimension
                shape = [data.shape[k] if d == 0 else d for k, d in enumerate(shape)]
            graph.initializer.append(numpy_helper.from_array(data.reshape(shape), node.output[0]))
            initializers[node.output[0]] = graph.initializer[-1]
            folded += 1
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    _drop_unused_initializers(graph)
    return folded


class _Weights:
    """Per-channel edits of initializers; a shared initializer is copied before it is edited."""

    def __init__(self, graph):
        self.graph = graph
        self.by_name = {init.name: init for init in graph.initializer}
        self.uses = {}
        for node in graph.node:
            for name in node.input:
                if name in self.by_name:
                    self.uses[name] = self.uses.get(name, 0) + 1

    def constant(self, name):
        return numpy_helper.to_array(self.by_name[name]) if name in self.by_name else None

    def scale(self, node, index, cells):
        """Multiplies `array[cell]` by `factor` for each (cell, factor) of input `index` of `node`."""
        name = node.input[index]
        array = numpy_helper.to_array(self.by_name[name]).astype(np.float64)
        for cell, factor in cells:
            array[cell] *= factor
        if self.uses[name] > 1:
            self.uses[name] -= 1
            name = f"{name}_{node.name}"
            self.uses[name] = 1
        tensor = numpy_helper.from_array(array.astype(np.float32), name)
        if name in self.by_name:
            self.by_name[name].CopyFrom(tensor)
        else:
            self.graph.initializer.append(tensor)
            self.by_name[name] = self.graph.initializer[-1]
        node.input[index] = name

    def scale_outputs(self, producer, factors):
        """Scales output channel c of a Conv or BatchNormalization by factors[c]."""
        cells = [((c,), f) for c, f in factors.items()]
        if producer.op_type == "BatchNormalization":
            targets = (1, 2)  # y = scale * (x - mean) / sqrt(var + eps) + bias
        else:
            targets = (1, 2) if len(producer.input) > 2 and producer.input[2] else (1,)
        for index in targets:
            self.scale(producer, index, cells)

    def scale_inputs(self, conv, factors):
        """Scales how a Conv reads input channel c by factors[c] (W[group's outputs, c % per group])."""
        weight = self.constant(conv.input[1])
        groups = _attribute(conv, "group", 1)
        per_group_in, per_group_out = weight.shape[1], weight.shape[0] // groups
        cells = []
        for c, f in factors.items():
            g = c // per_group_in
            cells.append(((slice(g * per_group_out, (g + 1) * per_group_out), c % per_group_in), f))
        self.scale(conv, 1, cells)


def _prelu_sites(model, weights):
    """Each PRelu with a constant slope: its slope, whether that is one slope per channel (axis 1),
    its producer (None unless the sign/scale of its output channels can be changed) and its
    consumer Convs (None unless they all are Convs whose input channels can be scaled)."""
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model).graph
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in
             list(inferred.value_info) + list(inferred.input) + list(inferred.output)
             if v.type.tensor_type.HasField("shape")}
    producers = {o: node for node in graph.node for o in node.output}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    for index, node in enumerate(graph.node):
        if node.op_type != "PRelu":
            continue
        slope = weights.constant(node.input[1])
        if slope is None:
            continue
        x, y = node.input[0], node.output[0]
        # A slope of shape [C, 1, ..., 1] with one dimension less than x lines up with axis 1.
        per_channel = slope.ndim >= 1 and slope.shape[0] == slope.size and ranks.get(x) == slope.ndim + 1
        producer = producers.get(x)
        producer_ok = (
            per_channel and producer is not None and producer.op_type in ("Conv", "BatchNormalization")
            and [c.name for c in consumers.get(x, [])] == [node.name] and x not in outputs
            and all(weights.constant(i) is not None for i in producer.input[1:] if i)
        )
        readers = consumers.get(y, [])
        readers_conv = (
            per_channel and bool(readers) and y not in outputs
            and all(r.op_type == "Conv" and r.input[0] == y and weights.constant(r.input[1]) is not None
                    for r in readers)
        )
        yield index, node, slope.astype(np.float64), producer if producer_ok else None, \
            readers if readers_conv else None


def _replace(graph, replacement):
    nodes = []
    for index, node in enumerate(graph.node):
        nodes += replacement.get(index, [node])
    del graph.node[:]
    graph.node.extend(nodes)
    _drop_unused_initializers(graph)


def rewrite_prelu_max(model):
    """PRelu(x) = Max(x, slope * x), bit-exact.

    For a channel with slope s <= 1 (negative s included), max(x, s*x) is x when x >= 0 and
    s*x when x < 0, which is PRelu. For s > 1, min(x, s*x) is PRelu and equals
    -max(-x, -s*x): the producer outputs -x for that channel, Max gives -PRelu(x) and every
    consumer Conv reads the channel with negated weights. Negation is exact in floating point.
    A PRelu that cannot be so handled keeps the exact 4-op form. Returns (rewritten, fallbacks).
    """
    graph = model.graph
    weights = _Weights(graph)
    replacement, fallback = {}, []
    for index, node, slope, producer, readers in list(_prelu_sites(model, weights)):
        x, y = node.input[0], node.output[0]
        # Max(x, s*x) is exact elementwise for any broadcast of s <= 1; flipping needs channels.
        flipped = {int(c): -1.0 for c in np.flatnonzero(slope.reshape(-1) > 1.0)}
        if flipped:
            if producer is None or readers is None:
                fallback.append(node.name)
                continue
            weights.scale_outputs(producer, flipped)
            for reader in readers:
                weights.scale_inputs(reader, flipped)
        replacement[index] = [
            onnx.helper.make_node("Mul", [x, node.input[1]], [f"{y}_scaled"]),
            onnx.helper.make_node("Max", [x, f"{y}_scaled"], [y]),
        ]
    _replace(graph, replacement)
    if fallback:
        rewrite_prelu(model)
    return len(replacement), fallback


def rewrite_prelu_nchwc(model):
    """PRelu(x) = Relu(x') + t * x', x' = (1 - s) * x folded into the producer, t = s / (1 - s).

    For s < 1: PRelu(x) = s*x + (1-s)*Relu(x) and, 1 - s being positive, (1-s)*Relu(x) =
    Relu((1-s)*x). A channel with s > 1 first becomes one with slope 1/s < 1: PRelu_s(x) =
    -s * PRelu_{1/s}(-x), so its producer outputs -x and every consumer Conv reads it with
    weights times -s. Every op left (Conv, Relu, Mul by a per-channel constant, Add) has a
    blocked NCHWc form in onnxruntime. Scaling by (1 - s) costs no relative precision in floating
    point (SFace's slope nearest 1 is 0.9969: x' = 0.0031 x, t = 317, products exact to an ulp);
    only s = 1 itself would make x' vanish. A PRelu whose producer is not a Conv/BatchNormalization
    read only by it, or with a slope within 1e-6 of 1, or s > 1 with a non-Conv consumer, keeps
    the exact 4-op form. Returns (rewritten, fallbacks).
    """
    graph = model.graph
    weights = _Weights(graph)
    replacement, fallback = {}, []
    for index, node, slope, producer, readers in list(_prelu_sites(model, weights)):
        if producer is None:  # also when the slope is not per channel
            fallback.append(node.name)
            continue
        x, y = node.input[0], node.output[0]
        slope = slope.reshape(-1)
        flipped = np.flatnonzero(slope > 1.0)
        effective = slope.copy()
        effective[flipped] = 1.0 / slope[flipped]
        if (flipped.size and readers is None) or np.any(np.abs(1.0 - effective) < 1e-6):
            fallback.append(node.name)
            continue
        sign = np.ones_like(slope)
        sign[flipped] = -1.0
        weights.scale_outputs(producer, {c: sign[c] * (1.0 - effective[c]) for c in range(slope.size)})
        if flipped.size:
            for reader in readers:
                weights.scale_inputs(reader, {int(c): -slope[c] for c in flipped})
        t = f"{y}_linear_slope"
        ratio = (effective / (1.0 - effective)).astype(np.float32).reshape((-1,) + (1,) * (len(
            weights.constant(node.input[1]).shape) - 1))
        graph.initializer.append(numpy_helper.from_array(ratio, t))
        replacement[index] = [
            onnx.helper.make_node("Relu", [x], [f"{y}_positive"], name=f"{node.name}_positive"),
            onnx.helper.make_node("Mul", [x, t], [f"{y}_linear"], name=f"{node.name}_linear"),
            onnx.helper.make_node("Add", [f"{y}_linear", f"{y}_positive"], [y], name=node.name),
        ]
    _replace(graph, replacement)
    if fallback:
        rewrite_prelu(model)
    return len(replacement), fallback


MODES = {"relu-min": None, "max": rewrite_prelu_max, "nchwc": rewrite_prelu_nchwc}


def main():
    args = sys.argv[1:]
    modes = [a.split("=", 1)[1] for a in args if a.startswith("--prelu=")]
    paths = [a for a in args if not a.startswith("--")]
    if len(paths) != 2 or len(modes) > 1 or (modes and modes[0] not in MODES) or \
            any(a.startswith("--") and not a.startswith("--prelu=") for a in args):
        print(__doc__, file=sys.stderr)
        return 2
    model = onnx.load(paths[0])
    folded = fold(model)
    report = f"folded {folded} DequantizeLinear nodes"
    if modes:
        if modes[0] == "relu-min":
            report += f", rewrote {rewrite_prelu(model)} PRelu as Relu + Min*slope"
        else:
            report += f", {fold_reshapes(model)} weight Reshapes"
            rewritten, fallback = MODES[modes[0]](model)
            report += f", rewrote {rewritten} PRelu ({modes[0]})"
            if fallback:
                report += f", {len(fallback)} kept as Relu + Min*slope: {fallback}"
    onnx.checker.check_model(model)
    onnx.save(model, paths[1])
    print(f"  {report}; inputs: {[i.name for i in model.graph.input]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
