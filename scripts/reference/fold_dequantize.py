#!/usr/bin/env python3
"""Folds an ONNX model's constant DequantizeLinear nodes into float32 weights.

The int8 block-quantised SFace export dequantises its weights on every inference (its
initializers are also declared as graph inputs, so onnxruntime may not constant-fold them)
and declares 29 weight inputs the graph never reads. Folding gives the same network with
float32 weights: same outputs, several times faster, and loadable by OpenCV's DNN too.

Usage: fold_dequantize.py SOURCE.onnx DESTINATION.onnx
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


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    model = onnx.load(sys.argv[1])
    folded = fold(model)
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[2])
    print(f"  folded {folded} DequantizeLinear nodes; inputs now: {[i.name for i in model.graph.input]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
