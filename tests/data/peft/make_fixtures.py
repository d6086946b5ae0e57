#!/usr/bin/python3
"""Writes PEFT LoRA adapter directories for tests/cli/test_members.cpp, and expected.json.

No PEFT package is available on Debian 12, so this script writes the layout and config keys
that PEFT's `PeftModel.save_pretrained` writes (checked against the PEFT sources:
peft/utils/save_and_load.py, peft/tuners/lora/{config,layer,model}.py, peft/utils/other.py):

  <dir>/adapter_config.json        the LoraConfig as JSON ("peft_type": "LORA", "r",
                                   "lora_alpha", "use_rslora", "rank_pattern", "alpha_pattern",
                                   "target_modules", "modules_to_save", "use_dora", ...)
  <dir>/adapter_model.safetensors  tensors keyed without the adapter name:
                                   base_model.model.<module>.lora_A.weight  (r x in)
                                   base_model.model.<module>.lora_B.weight  (out x r)
                                   base_model.model.<module>.lora_embedding_A  (r x vocab)
                                   base_model.model.<module>.lora_embedding_B  (dim x r)
                                   base_model.model.<modules_to_save module>.weight / .bias
                                   with __metadata__ {"format": "pt"}, as safetensors'
                                   save_file writes it (written here by hand: the safetensors
                                   package is not in Debian either)
  <dir>/adapter_model.bin          the same dict written by torch.save (older PEFT), instead.

Run with Debian's Python, python3-torch and python3-numpy:

    /usr/bin/python3 tests/data/peft/make_fixtures.py [--out DIR]

expected.json holds, for delta = (0.2, 0.3, 0.5), what both fusion modes must give, computed
here in float64 with numpy: per LoRA module the factor-averaged A and B, and the exact update
sum_i delta_i s_i B_i A_i, where s_i = lora_alpha / r (or / sqrt(r) with use_rslora) with r and
lora_alpha taken from rank_pattern / alpha_pattern when a pattern matches the module's name.
"""
import argparse
import json
import math
import os
import re
import struct

import numpy as np
import torch

DELTA = [0.2, 0.3, 0.5]
PREFIX = "base_model.model."
# module -> (kind, in or vocab, out or dim)
MODULES = {
    "model.embed_tokens": ("embedding", 7, 6),
    "model.layers.0.q_proj": ("linear", 6, 5),
    "model.layers.0.v_proj": ("linear", 6, 5),
}


def config(r, alpha, rslora=False, rank_pattern=None, alpha_pattern=None, dora=False):
    return {
        "alpha_pattern": alpha_pattern or {},
        "auto_mapping": None,
        "base_model_name_or_path": "tiny-test-model",
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_pattern": None,
        "layers_to_transform": None,
        "lora_alpha": alpha,
        "lora_bias": False,
        "lora_dropout": 0.05,
        "modules_to_save": ["classifier"],
        "peft_type": "LORA",
        "peft_version": "0.13.2 (layout reproduced by tests/data/peft/make_fixtures.py)",
        "r": r,
        "rank_pattern": rank_pattern or {},
        "revision": None,
        "target_modules": ["q_proj", "v_proj", "embed_tokens"],
        "task_type": "SEQ_CLS",
        "use_dora": dora,
        "use_rslora": rslora,
    }


def pattern_value(patterns, module, default):
    for key, value in patterns.items():  # peft.utils.other.get_pattern_key
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def scale(cfg, module):
    r = pattern_value(cfg["rank_pattern"], module, cfg["r"])
    alpha = pattern_value(cfg["alpha_pattern"], module, cfg["lora_alpha"])
    return r, alpha / (math.sqrt(r) if cfg["use_rslora"] else r)


def tensors(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for module, (kind, n_in, n_out) in MODULES.items():
        r, _ = scale(cfg, module)
        a = torch.randn(r, n_in, generator=g)
        b = torch.randn(n_out, r, generator=g)
        if kind == "linear":
            out[f"{PREFIX}{module}.lora_A.weight"] = a
            out[f"{PREFIX}{module}.lora_B.weight"] = b
        else:
            out[f"{PREFIX}{module}.lora_embedding_A"] = a
            out[f"{PREFIX}{module}.lora_embedding_B"] = b
        if cfg["use_dora"] and kind == "linear":
            out[f"{PREFIX}{module}.lora_magnitude_vector"] = torch.rand(n_out, generator=g)
    out[f"{PREFIX}classifier.weight"] = torch.randn(3, 6, generator=g)
    out[f"{PREFIX}classifier.bias"] = torch.randn(3, generator=g)
    return out


def save_safetensors(path, named):
    """The safetensors format: u64 header length, JSON header, little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, t in named.items():
        data = t.contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_adapter(directory, cfg, seed, weights="safetensors"):
    os.makedirs(directory, exist_ok=True)
    named = tensors(cfg, seed)
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    if weights == "safetensors":
        save_safetensors(os.path.join(directory, "adapter_model.safetensors"), named)
    else:
        torch.save(named, os.path.join(directory, "adapter_model.bin"))
    return named


def expected(members):
    """members: [(cfg, tensors)] -> factor averages and exact updates for DELTA."""
    out = {"factors": {}, "exact_update": {}, "linear": {}}
    for module, (kind, _, _) in MODULES.items():
        a_key, b_key = ((f"{PREFIX}{module}.lora_A.weight", f"{PREFIX}{module}.lora_B.weight")
                        if kind == "linear" else
                        (f"{PREFIX}{module}.lora_embedding_A", f"{PREFIX}{module}.lora_embedding_B"))
        update = sum(d * scale(cfg, module)[1] * (t[b_key].double().numpy() @ t[a_key].double().numpy())
                     for d, (cfg, t) in zip(DELTA, members))
        out["exact_update"][module] = {"a": a_key, "b": b_key, "shape": list(update.shape),
                                       "values": update.reshape(-1).tolist()}
        if all(t[a_key].shape == members[0][1][a_key].shape for _, t in members):
            for key in (a_key, b_key):
                fused = sum(d * t[key].double().numpy() for d, (_, t) in zip(DELTA, members))
                out["factors"][key] = fused.reshape(-1).tolist()
    for key in (f"{PREFIX}classifier.weight", f"{PREFIX}classifier.bias"):
        out["linear"][key] = sum(d * t[key].double().numpy()
                                 for d, (_, t) in zip(DELTA, members)).reshape(-1).tolist()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    out = parser.parse_args().out
    path = lambda name: os.path.join(out, name)
    # Three members of one run: same config, rank_pattern (suffix form) and alpha_pattern (full
    # module name) give v_proj rank 3 and scale 1.5 / 3; member 3 stores adapter_model.bin.
    patterned = config(2, 4, rank_pattern={"v_proj": 3}, alpha_pattern={"model.layers.0.v_proj": 1.5})
    same = [(patterned, write_adapter(path("member_1"), patterned, 1)),
            (patterned, write_adapter(path("member_2"), patterned, 2)),
            (patterned, write_adapter(path("member_3"), patterned, 3, weights="bin"))]
    # Members with different ranks and scales (rsLoRA): only the exact fusion applies.
    rslora = config(4, 4, rslora=True)
    mixed = [same[0], same[1], (rslora, write_adapter(path("rslora_member"), rslora, 4))]
    dora = config(2, 4, dora=True)
    write_adapter(path("dora_member"), dora, 5)
    with open(path("expected.json"), "w") as f:
        json.dump({"delta": DELTA, "same": expected(same), "mixed": expected(mixed)}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
