#!/usr/bin/python3
"""Writes the torch.save fixtures that tests/io/test_torch_save.cpp reads, and expected.json.

Run with Debian's Python and python3-torch (PyTorch 1.13):

    /usr/bin/python3 tests/data/torch_save/make_fixtures.py            # into this directory
    /usr/bin/python3 tests/data/torch_save/make_fixtures.py --out DIR  # elsewhere (the tests do)

Every tensor is small and deterministic (seeded). expected.json lists, for each fixture that
bomf must read, its entries in file order: name, dtype, shape and the values (row-major,
exactly representable in JSON: bf16/fp16 values are widened to float, bool to 0/1); for each
fixture bomf must refuse, a fragment of the error message.
"""
import argparse
import collections
import json
import os

import torch


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(5, 3)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 4), torch.nn.Linear(4, 4)])
        self.norm = torch.nn.BatchNorm1d(4)


class Model(torch.nn.Module):
    """A nested module: state_dict() names like 'encoder.layers.1.weight' and int64 buffers."""

    def __init__(self):
        super().__init__()
        self.encoder = Block()
        self.head = torch.nn.Linear(4, 2)
        self.register_buffer("position_ids", torch.arange(6, dtype=torch.int64).reshape(1, 6))

    def forward(self, tokens):
        x = self.encoder.embed(tokens).mean(dim=1)
        for layer in self.encoder.layers:
            x = torch.relu(layer(x))
        return self.head(self.encoder.norm(x))


def model():
    torch.manual_seed(0)
    m = Model()
    m.train()
    m(torch.tensor([[0, 1, 2], [3, 4, 0], [1, 1, 2]]))  # updates the BatchNorm running stats
    return m


def describe(state):
    out = []
    for name, tensor in state.items():
        t = tensor.detach()
        values = t.to(torch.float64) if t.is_floating_point() else t.to(torch.int64)
        out.append({"name": name, "dtype": str(t.dtype).replace("torch.", ""),
                    "shape": list(t.shape), "values": values.reshape(-1).tolist()})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    path = lambda name: os.path.join(out, name)
    readable = collections.OrderedDict()

    def save(name, obj, **kwargs):
        torch.save(obj, path(name), **kwargs)

    m = model()
    state = m.state_dict()  # an OrderedDict carrying _metadata
    assert isinstance(state, collections.OrderedDict) and hasattr(state, "_metadata")
    save("module_fp32.pt", state)
    readable["module_fp32.pt"] = describe(state)

    for name, dtype in (("module_bf16.pt", torch.bfloat16), ("module_fp16.pt", torch.float16)):
        s = model().to(dtype).state_dict()
        save(name, s)
        readable[name] = describe(s)

    save("module_protocol4.pt", state, pickle_protocol=4)
    readable["module_protocol4.pt"] = describe(state)

    params = dict(m.named_parameters())  # torch._utils._rebuild_parameter
    save("parameters.pt", params)
    readable["parameters.pt"] = describe(params)

    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4 - 1
    plain = {  # a plain dict: other dtypes, 0-d, empty, strided and storage-sharing views
        "f64": torch.linspace(-1, 1, 5, dtype=torch.float64),
        "i32": torch.tensor([[-3, 0], [7, 2147483647]], dtype=torch.int32),
        "i16": torch.tensor([-32768, 5], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "base": base,
        "transposed": base.t(),
        "row": base[1],
        "column": base[:, 2],
    }
    save("plain_dict.pt", plain)
    readable["plain_dict.pt"] = describe(plain)

    refused = {}
    save("legacy.pt", state, _use_new_zipfile_serialization=False)
    refused["legacy.pt"] = "legacy torch.save format"
    save("non_tensor.pt", {"weight": base, "step": 7})
    refused["non_tensor.pt"] = "entry 'step' holds an int (7), expected a tensor"
    save("training_checkpoint.pt", {"model": state, "epoch": 3})
    refused["training_checkpoint.pt"] = "entry 'model' holds a dict"
    save("list.pt", [base])
    refused["list.pt"] = "holds a list, expected a dict"

    with open(path("expected.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "readable": readable, "refused": refused},
                  f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
