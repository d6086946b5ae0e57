#!/usr/bin/python3
"""Writes classification_metrics.json for tests/torch/test_classification_metrics.cpp.

Run with Debian's Python and python3-numpy (scikit-learn is not needed; its definitions are
written out here in numpy):

    /usr/bin/python3 tests/data/classification/make_fixture.py

Each case has float32 logits (N x C), integer labels and, computed with numpy:
  accuracy   mean(argmax(logits) == labels)
  binary_f1  for every positive class p: 2 TP / (2 TP + FP + FN), 0 when that is 0/0
             (sklearn f1_score(pos_label=p, average='binary', zero_division=0) for C = 2)
  macro_f1   the mean of the per-class F1 over the classes in labels or predictions
             (sklearn f1_score(average='macro', zero_division=0), labels=None)
"""
import json
import os

import numpy as np


def case(name, logits, labels):
    logits = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    predictions = logits.argmax(axis=1)
    classes = logits.shape[1]

    def f1(c):
        tp = np.sum((predictions == c) & (labels == c))
        fp = np.sum((predictions == c) & (labels != c))
        fn = np.sum((predictions != c) & (labels == c))
        return 0.0 if 2 * tp + fp + fn == 0 else float(2 * tp / (2 * tp + fp + fn))

    present = sorted(set(labels.tolist()) | set(predictions.tolist()))
    return {
        "name": name,
        "logits": logits.tolist(),
        "labels": labels.tolist(),
        "accuracy": float(np.mean(predictions == labels)),
        "binary_f1": [f1(c) for c in range(classes)],
        "macro_f1": float(np.mean([f1(c) for c in present])),
    }


def main():
    rng = np.random.default_rng(20)
    cases = []
    # Five classes; labels use 0..2 only, predictions reach class 3 but never class 4.
    labels = rng.integers(0, 3, size=60)
    logits = rng.normal(size=(60, 5))
    logits[np.arange(60), labels] += 1.0
    logits[:, 4] -= 10.0
    logits[::7, 3] += 5.0
    cases.append(case("absent_classes", logits, labels))
    # Binary, unbalanced.
    labels = (rng.random(40) < 0.2).astype(np.int64)
    logits = rng.normal(size=(40, 2))
    logits[:, 1] += labels * 1.5 - 0.5
    cases.append(case("binary", logits, labels))
    # Every prediction wrong: accuracy 0, every F1 0.
    cases.append(case("all_wrong", [[1, 0, 0], [0, 1, 0], [0, 0, 1]], [1, 2, 0]))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "classification_metrics.json")
    with open(out, "w") as f:
        json.dump({"cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
