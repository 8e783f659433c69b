#!/usr/bin/env python3
"""OpenCV's own face pipeline (cv2.FaceDetectorYN + cv2.FaceRecognizerSF), as a reference.

detect MODEL IMAGE...       JSON: per image, YuNet detections [x, y, w, h, 10 landmark coords, score]
                            on the image letter-boxed into 640x640 (top-left, black padding) and
                            mapped back to image pixels, as the kiosk's detector does.
bench MODELS_DIR IMAGE N    JSON: median/p95 ms of detection at 640x640 and SFace embedding,
                            over N runs, with 2 threads (cv2.setNumThreads(2)).
"""

import json
import statistics
import sys
import time

import cv2
import numpy as np

SIDE = 640


def letterbox(image):
    height, width = image.shape[:2]
    scale = min(SIDE / width, SIDE / height)
    new_w = min(SIDE, max(1, round(width * scale)))
    new_h = min(SIDE, max(1, round(height * scale)))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(resized, 0, SIDE - new_h, 0, SIDE - new_w, cv2.BORDER_CONSTANT, value=0)
    return padded, new_w / width


def detector(model, score=0.6, nms=0.3):
    return cv2.FaceDetectorYN.create(model, "", (SIDE, SIDE), score, nms, 5000)


def detect(model, paths):
    yunet = detector(model)
    out = []
    for path in paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        padded, scale = letterbox(image)
        _, faces = yunet.detect(padded)
        rows = [] if faces is None else faces.tolist()
        out.append([[v / scale for v in row[:14]] + [row[14]] for row in rows])
    print(json.dumps(out))


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench(models_dir, path, runs):
    cv2.setNumThreads(2)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    frame = cv2.resize(image, (640, 480))
    padded, _ = letterbox(frame)
    yunet = detector(f"{models_dir}/face_detection_yunet_2023mar.onnx")
    sface = cv2.FaceRecognizerSF.create(f"{models_dir}/face_recognition_sface_2021dec_fp32.onnx", "")
    _, faces = yunet.detect(padded)
    face = faces[0]
    aligned = sface.alignCrop(padded, face)
    timings = {"detect": [], "embed": [], "align": []}
    for _ in range(3):  # warm-up
        yunet.detect(padded)
        sface.feature(aligned)
    for _ in range(runs):
        t = time.perf_counter()
        yunet.detect(padded)
        timings["detect"].append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        crop = sface.alignCrop(padded, face)
        timings["align"].append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        sface.feature(crop)
        timings["embed"].append((time.perf_counter() - t) * 1e3)
    gallery = np.random.default_rng(1).standard_normal((100_000, 128)).astype(np.float32)
    probe = gallery[0].copy()
    search = []
    for _ in range(max(5, runs // 4)):
        t = time.perf_counter()
        scores = gallery @ probe
        int(np.argmax(scores))
        search.append((time.perf_counter() - t) * 1e3)
    timings["search_100k"] = search
    print(json.dumps({k: {"median_ms": statistics.median(v), "p95_ms": percentile(v, 0.95)} for k, v in timings.items()}
                     | {"opencv": cv2.__version__}))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "detect":
        detect(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 5 and sys.argv[1] == "bench":
        bench(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
