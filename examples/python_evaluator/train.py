#!/usr/bin/env python3
"""Fine-tunes the example's model (model.py) and keeps checkpoints for `bomf search`.

Trains the MLP with minibatch SGD on the spiral task and, from half-way through training on,
saves `--members` checkpoints at evenly spaced steps (BOMF's member policy), the way a
fine-tuning run does:

  --format safetensors (default): OUT/checkpoint-<step>/model.safetensors, the layout of
      Hugging Face's Trainer (written with safetensors_numpy.py);
  --format torch: OUT/checkpoint-<step>.pt, `torch.save(model.state_dict(), path)` of the
      same weights as torch.nn.Linear layers (needs PyTorch).

Also writes OUT/data.safetensors (the validation and test splits, for the evaluators), and the
member paths in training order to OUT/members.txt and standard output, one per line (a shell
glob such as checkpoint-*/ sorts checkpoint-1000 before checkpoint-500). Deterministic for a
given --seed.
Needs numpy only (and PyTorch for --format torch).
"""
import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402
import safetensors_numpy  # noqa: E402


def gradients(w, x, y):
    logits, (h1, h2) = model.forward(w, x)
    _, log_p = model.cross_entropy(logits, y)
    d = np.exp(log_p)
    d[np.arange(len(y)), y] -= 1.0
    d /= len(y)
    g = {"out.weight": d.T @ h2, "out.bias": d.sum(0)}
    d2 = (d @ w["out.weight"]) * (1.0 - h2 ** 2)
    g["fc2.weight"], g["fc2.bias"] = d2.T @ h1, d2.sum(0)
    d1 = (d2 @ w["fc2.weight"]) * (1.0 - h1 ** 2)
    g["fc1.weight"], g["fc1.bias"] = d1.T @ x, d1.sum(0)
    return g


def save(w, out, step, fmt):
    if fmt == "torch":
        import torch
        path = os.path.join(out, "checkpoint-%d.pt" % step)
        state = collections.OrderedDict((k, torch.from_numpy(w[k].copy())) for k in sorted(w))
        torch.save(state, path)  # what model.state_dict() saving writes: an OrderedDict
        return path
    directory = os.path.join(out, "checkpoint-%d" % step)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "model.safetensors")
    safetensors_numpy.save(path, w, {"format": "pt", "step": step})
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--members", type=int, default=5, help="checkpoints kept (default 5)")
    parser.add_argument("--steps", type=int, default=2000, help="SGD steps (default 2000)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["safetensors", "torch"], default="safetensors")
    a = parser.parse_args()
    if a.members < 2 or a.steps < 2 * a.members:
        parser.error("expected --members >= 2 and --steps >= 2 * --members")
    os.makedirs(a.out, exist_ok=True)
    data = model.make_data(a.seed)
    safetensors_numpy.save(os.path.join(a.out, "data.safetensors"),
                           {"%s_%s" % (split, part): arrays[i]
                            for split, arrays in data.items() if split != "train"
                            for i, part in enumerate(("x", "y"))})
    x, y = data["train"]
    rng = np.random.default_rng(a.seed + 2)
    w = model.init_weights(a.seed)
    half = a.steps // 2
    keep = {half + round(k * (a.steps - half) / (a.members - 1)) for k in range(a.members)}
    paths = []
    for step in range(1, a.steps + 1):
        batch = rng.integers(0, len(y), a.batch)
        for name, g in gradients(w, x[batch], y[batch]).items():
            w[name] = (w[name] - a.lr * g).astype(np.float32)
        if step in keep:
            paths.append(save(w, a.out, step, a.format))
            print(paths[-1])
    with open(os.path.join(a.out, "members.txt"), "w") as f:
        f.write("".join(p + "\n" for p in paths))


if __name__ == "__main__":
    main()
