#!/usr/bin/env python3
"""Peak memory of `bomf fuse` on safetensors members of growing size (docs/cli.md, "Memory is
bounded"). Not run by CI: it writes 3 members of each size (default 128 and 512 MB each) and
their fusion under DIR.

Usage: bench/fusion/fuse_memory.py BOMF_EXECUTABLE [DIR] [MB ...]

For each member size and --chunk-elements 2^20 and 2^22 it runs `bomf fuse --uniform` on three
float32 members and samples /proc/PID/status every 5 ms: RssAnon (the program's own memory),
RssFile (mapped pages: its shared libraries and the members' mapped chunks) and VmHWM (peak
resident set). A run on three 1 KB members gives the program's baseline (libtorch loaded). The
fused file is checked (every element 2.0 = mean of 1, 2, 3) at both ends. Needs numpy.
"""
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np


def write_member(path, elements, value):
    header = json.dumps({"w": {"dtype": "F32", "shape": [elements],
                               "data_offsets": [0, 4 * elements]}}).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    block = np.full(1 << 22, value, dtype="<f4").tobytes()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        left = elements
        while left > 0:
            n = min(left, 1 << 22)
            f.write(block[:4 * n])
            left -= n


def peak_memory(command):
    """Runs `command`, returns the peaks (MB) of VmHWM, RssAnon and RssFile while it ran."""
    proc = subprocess.Popen(command)
    peak = {"VmHWM": 0, "RssAnon": 0, "RssFile": 0}
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    key, _, value = line.partition(":")
                    if key in peak:
                        peak[key] = max(peak[key], int(value.split()[0]) // 1024)
        except OSError:
            pass
        time.sleep(0.005)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)}: exit status {proc.returncode}")
    return peak


def run(bomf, directory, elements, chunk):
    paths = [os.path.join(directory, f"member{i}.safetensors") for i in range(3)]
    for i, path in enumerate(paths):
        write_member(path, elements, i + 1.0)
    out = os.path.join(directory, "fused.safetensors")
    command = [bomf, "fuse", "-q", "--uniform", "-o", out] + paths
    if chunk:
        command[3:3] = ["--chunk-elements", str(chunk)]
    peak = peak_memory(command)
    fused = np.memmap(out, dtype="<f4", mode="r", offset=os.path.getsize(out) - 4 * elements)
    assert float(fused[0]) == 2.0 and float(fused[-1]) == 2.0, "wrong fused values"
    del fused
    for path in paths + [out]:
        os.remove(path)
    return peak


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bomf = sys.argv[1]
    directory = sys.argv[2] if len(sys.argv) > 2 else "."
    sizes = [int(mb) for mb in sys.argv[3:]] or [128, 512]
    fmt = "{:>24} {:>16} {:>10} {:>10} {:>8}"
    print(fmt.format("members", "chunk (elements)", "RssAnon MB", "RssFile MB", "VmHWM MB"))
    base = run(bomf, directory, 256, 0)
    print(fmt.format("3 x 1 KB (baseline)", "default", base["RssAnon"], base["RssFile"],
                     base["VmHWM"]))
    for mb in sizes:
        for chunk in (1 << 20, 1 << 22):
            peak = run(bomf, directory, mb * (1 << 20) // 4, chunk)
            print(fmt.format(f"3 x {mb} MB", chunk, peak["RssAnon"], peak["RssFile"],
                             peak["VmHWM"]), flush=True)


if __name__ == "__main__":
    main()
