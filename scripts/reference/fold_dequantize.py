#!/usr/bin/env python3
"""Folds an ONNX model's constant DequantizeLinear nodes into float32 weights, and rewrites
PRelu as Relu(x) + Min(x, 0) * slope.

The int8 block-quantised SFace export dequantises its weights on every inference (its
initializers are also declared as graph inputs, so onnxruntime may not constant-fold them)
and declares 29 weight inputs the graph never reads. Folding gives the same network with
float32 weights: same outputs, several times faster, and loadable by OpenCV's DNN too.

PRelu with per-channel slopes is a slow generic broadcast kernel in onnxruntime that also
breaks its blocked (NCHWc) convolution layout; the rewrite is exact (x > 0: x + 0; x <= 0:
0 + x * slope) and made SFace about 30 % faster.

Usage: fold_dequantize.py [--rewrite-prelu] SOURCE.onnx DESTINATION.onnx
Deterministic: the same source and pinned onnx/protobuf versions give the same bytes.
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
    graph = model.graph
    zero = "prelu_zero"
    graph.initializer.append(numpy_helper.from_array(np.zeros((1,), np.float32), zero))
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
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def main():
    args = sys.argv[1:]
    prelu = "--rewrite-prelu" in args
    paths = [a for a in args if a != "--rewrite-prelu"]
    if len(paths) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    model = onnx.load(paths[0])
    folded = fold(model)
    rewritten = rewrite_prelu(model) if prelu else 0
    onnx.checker.check_model(model)
    onnx.save(model, paths[1])
    print(f"  folded {folded} DequantizeLinear nodes, rewrote {rewritten} PRelu; inputs: {[i.name for i in model.graph.input]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
