"""The example's task and model, shared by train.py and evaluate.py.

Task: three interleaved spirals in the plane (a classic non-linear 3-class problem), generated
deterministically from a seed, split into train / validation / test. Model: a multilayer
perceptron 2 → 32 → 32 → 3 with tanh activations; its weights are the state dict
{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "out.weight", "out.bias"} with PyTorch's
(out_features, in_features) layout, so torch.nn.Linear layers load them as they are.
"""
import numpy as np

HIDDEN = 32
CLASSES = 3


def make_data(seed=0, per_class=300, noise=0.25):
    """Train (60%), validation (20%) and test (20%) splits of the spiral task, float32 / int64."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(CLASSES):
        t = np.sqrt(rng.uniform(0.0, 1.0, per_class)) * 3.0
        angle = t * 1.6 + c * 2.0 * np.pi / CLASSES
        x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
        xs.append(x + rng.normal(0.0, noise, x.shape))
        ys.append(np.full(per_class, c))
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(ys).astype(np.int64)
    order = rng.permutation(len(y))
    x, y = x[order], y[order]
    a, b = int(0.6 * len(y)), int(0.8 * len(y))
    return {"train": (x[:a], y[:a]), "validation": (x[a:b], y[a:b]), "test": (x[b:], y[b:])}


def init_weights(seed=0):
    rng = np.random.default_rng(seed + 1)

    def linear(n_in, n_out):
        bound = 1.0 / np.sqrt(n_in)
        return (rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                rng.uniform(-bound, bound, n_out).astype(np.float32))

    w = {}
    for name, (n_in, n_out) in {"fc1": (2, HIDDEN), "fc2": (HIDDEN, HIDDEN),
                                "out": (HIDDEN, CLASSES)}.items():
        w[name + ".weight"], w[name + ".bias"] = linear(n_in, n_out)
    return w


def forward(w, x):
    """Logits (n × 3) and the hidden activations (for backpropagation)."""
    h1 = np.tanh(x @ w["fc1.weight"].T + w["fc1.bias"])
    h2 = np.tanh(h1 @ w["fc2.weight"].T + w["fc2.bias"])
    return h2 @ w["out.weight"].T + w["out.bias"], (h1, h2)


def cross_entropy(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean()), log_p


def metrics(logits, y):
    """Accuracy and macro-F1 (scikit-learn's definitions, zero_division=0)."""
    predicted = logits.argmax(axis=1)
    f1 = []
    for c in range(CLASSES):
        tp = np.sum((predicted == c) & (y == c))
        fp = np.sum((predicted == c) & (y != c))
        fn = np.sum((predicted != c) & (y == c))
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(predicted == y)), float(np.mean(f1))
