#!/usr/bin/env python3
"""The evaluator of `bomf search` for the example's model: the validation loss and metrics of
one fused model, as one line of bomf's evaluator protocol (version 1, docs/cli.md):

    {"bomf_protocol": 1, "loss": 0.41, "metrics": {"accuracy": 0.91, "macro_f1": 0.90}}

The fused weights come from bomf (--weights FILE: a .safetensors file, or a torch.save .pt file
read with PyTorch), or the evaluator fuses them itself (--delta D1,...,DN --members M1 ... MN:
w = sum_i D_i w_i, for evaluators that fuse on their own device). --split test scores a model on
the held-out split instead. Logs go to standard error; bomf keeps their last lines with a failed
evaluation. Needs numpy (and PyTorch for .pt files).

For tests: --log FILE appends one JSON line per call ({"tag", "pid", "worker", "start", "end"});
--sleep S waits S seconds first (a slow model).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402
import safetensors_numpy  # noqa: E402


def load_weights(path):
    if path.endswith(".pt"):
        import torch
        state = torch.load(path, map_location="cpu")
        return {k: v.float().numpy() for k, v in state.items()}
    return {k: v.astype(np.float32) for k, v in safetensors_numpy.load(path).items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="data.safetensors written by train.py")
    parser.add_argument("--weights", help="the fused checkpoint bomf wrote ({weights})")
    parser.add_argument("--delta", help="fuse here: the coefficients ({delta})")
    parser.add_argument("--members", nargs="+", help="fuse here: the members ({members})")
    parser.add_argument("--split", choices=["validation", "test"], default="validation")
    parser.add_argument("--log", help="append a JSON line per call to this file (tests)")
    parser.add_argument("--tag", default="", help="written to the log line")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds to wait first (tests)")
    a = parser.parse_args()
    start = time.time()
    if a.sleep > 0:
        time.sleep(a.sleep)
    if a.weights:
        w = load_weights(a.weights)
    elif a.delta and a.members:
        delta = [float(d) for d in a.delta.split(",")]
        if len(delta) != len(a.members):
            parser.error("--delta has %d values for %d members" % (len(delta), len(a.members)))
        members = [load_weights(m) for m in a.members]
        w = {k: sum(d * m[k].astype(np.float64) for d, m in zip(delta, members)).astype(np.float32)
             for k in members[0]}
    else:
        parser.error("give --weights, or --delta and --members")
    data = safetensors_numpy.load(a.data)
    x, y = data[a.split + "_x"], data[a.split + "_y"]
    logits, _ = model.forward(w, x)
    loss, _ = model.cross_entropy(logits, y)
    accuracy, macro_f1 = model.metrics(logits, y)
    print("evaluated %d %s examples: loss %.4f, accuracy %.4f" % (len(y), a.split, loss, accuracy),
          file=sys.stderr)
    if a.log:
        with open(a.log, "a") as log:
            log.write(json.dumps({"tag": a.tag, "pid": os.getpid(),
                                  "worker": os.environ.get("BOMF_WORKER"),
                                  "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                  "start": start, "end": time.time()}) + "\n")
    if not np.isfinite(loss):
        print(json.dumps({"bomf_protocol": 1, "error": "the loss is not finite"}))
        return
    print(json.dumps({"bomf_protocol": 1, "loss": loss,
                      "metrics": {"accuracy": accuracy, "macro_f1": macro_f1}}, allow_nan=False))


if __name__ == "__main__":
    main()
