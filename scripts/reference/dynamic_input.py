#!/usr/bin/env python3
"""Declares an ONNX model's image input height and width as free dimensions.

YuNet 2023mar is fully convolutional (its Resize nodes scale by 2, its Reshape nodes flatten
with -1), but its export declares the input as [1, 3, 640, 640], so onnxruntime refuses any
other size. The kiosk runs it at 640x640 on whole frames and on small crops around the face it
already found while it follows the head-turn challenge (src/vision/detect.rs): the same
weights, the same graph, only the two declared dimensions change.

Usage: dynamic_input.py SOURCE.onnx DESTINATION.onnx
Deterministic: the same source and pinned onnx/protobuf versions give the same bytes.
"""

import sys

import onnx


def free_spatial_dims(model):
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    images = [value for value in graph.input if value.name not in initializers]
    if len(images) != 1:
        raise SystemExit(f"expected one image input, found {len(images)}")
    dims = images[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise SystemExit(f"expected an NCHW input, found {len(dims)} dimensions")
    for dim, name in zip(dims[2:], ("height", "width")):
        dim.ClearField("dim_value")
        dim.dim_param = name
    # The outputs' cell counts follow the input size.
    for output in graph.output:
        out_dims = output.type.tensor_type.shape.dim
        if len(out_dims) == 3:
            out_dims[1].ClearField("dim_value")
            out_dims[1].dim_param = f"{output.name}_cells"
    # Shapes inferred for the fixed size would contradict a smaller input.
    del graph.value_info[:]
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model = onnx.load(sys.argv[1])
    onnx.save(free_spatial_dims(model), sys.argv[2])


if __name__ == "__main__":
    main()
