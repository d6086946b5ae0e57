#!/usr/bin/env python3
"""BoTorch's side of bomf_acquisition_optimization_bench, measured in the same run.

Started by the benchmark (bench/acquisition_optimization/botorch_side.hpp) as a child process
when BoTorch is available; it never ships BoTorch and downloads nothing. It imports the pinned
stack of ../shared/botorch-anchor (README there: BoTorch 0.11.3, GPyTorch 1.12, torch 1.13 from
Debian), located by the environment variable BOMF_BOTORCH_ANCHOR (the anchor directory, holding
bench_mobo.py and anchor_env.py) and ANCHOR_PYTHONPATH (the exported packages).

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
  {"cmd": "hello", "threads": T}
      -> {"ok": true, "botorch": ..., "torch": ...}; sets torch.set_num_threads(T) and runs one
         untimed iteration (lazy initialisation), as ab_iteration.py does.
  {"cmd": "time_iteration", "m": M, "n": N, "seed": R}
      -> the anchor's `one_iteration` (fit m GPs + qLogNEHVI(prune_baseline=True) +
         optimize_acqf(10 restarts, 512 raw, batch_limit 5, maxiter 200), d = 15) on the data of
         ab_iteration.py: {"cpu_s", "wall_s", "fit_s", "acq_s", "acq_value"}.
  {"cmd": "optimize", "domain": "box" | "simplex", "X": [[...]], "Y": [[...]], "ref": [...],
   "models": [{"lengthscales": [...], "outputscale": s, "noise": v, "mean_constant": c}, ...],
   "seed": r, "num_restarts": 10, "raw_samples": 512}
      -> BoTorch's optimum of qLogNEHVI (128 Sobol samples, prune_baseline=False so that the
         baseline is the given X) for the ModelListGP of SingleTaskGP(X, Y_k, Standardize(m=1))
         with the given hyperparameters (Matérn-5/2 + output scale, no input transform), by
         optimize_acqf over [0,1]^d, with sum(x) = 1 as an equality constraint for "simplex"
         (SLSQP, BoTorch's route for a constrained domain): {"x", "value", "cpu_s",
         "base_samples_baseline" (S rows of n·m: [s][i·m + k]), "base_samples_new" (S rows of m)}.
         The base samples let bomf optimize the identical function.
  {"cmd": "evaluate", "x": [...]}
      -> {"value"}: the last "optimize" acquisition function at x.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings


def main() -> None:
    anchor = os.environ.get("BOMF_BOTORCH_ANCHOR")
    if not anchor:
        print(json.dumps({"ok": False, "error": "BOMF_BOTORCH_ANCHOR is not set"}), flush=True)
        return
    sys.path.insert(0, anchor)
    try:
        import bench_mobo as bm  # runs anchor_env.setup()
        import botorch
        import torch
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.models import ModelListGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from botorch.optim.optimize import optimize_acqf
        from botorch.sampling.normal import SobolQMCNormalSampler
    except BaseException as e:  # noqa: BLE001 (SystemExit from anchor_env included)
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)
        return
    warnings.filterwarnings("ignore")
    dt = torch.float64
    state = {"acqf": None}

    def data_of(m, n):  # exactly ab_iteration.py's
        f = bm.bomf_objective(m, 15)
        bounds = torch.stack([torch.zeros(15, dtype=dt), torch.ones(15, dtype=dt)])
        x = bm.draw_sobol_samples(bounds=bounds, n=n, q=1, seed=0).squeeze(1).to(dt)
        return x, f(x, torch.Generator().manual_seed(1))

    def hello(req):
        torch.set_num_threads(int(req.get("threads", 1)))
        bm.quiet()
        x, y = data_of(2, 15)
        bm.one_iteration(x, y, torch.zeros(2, dtype=dt), "qLogNEHVI", 99)
        return {"ok": True, "botorch": botorch.__version__, "torch": torch.__version__,
                "threads": torch.get_num_threads()}

    def time_iteration(req):
        m, n = int(req["m"]), int(req["n"])
        x, y = data_of(m, n)
        c0, t0 = time.process_time(), time.perf_counter()
        _, info = bm.one_iteration(x, y, torch.zeros(m, dtype=dt), "qLogNEHVI", int(req["seed"]))
        return {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0,
                "fit_s": info["fit_s"], "acq_s": info["acq_s"], "acq_value": info["acq_value"]}

    def optimize(req):
        X = torch.tensor(req["X"], dtype=dt)
        Y = torch.tensor(req["Y"], dtype=dt)
        n, d = X.shape
        m = Y.shape[1]
        models = []
        for k, h in enumerate(req["models"]):
            gp = SingleTaskGP(X, Y[:, k:k + 1], outcome_transform=Standardize(m=1))
            gp.covar_module.base_kernel.lengthscale = torch.tensor(h["lengthscales"], dtype=dt)
            gp.covar_module.outputscale = torch.tensor(h["outputscale"], dtype=dt)
            gp.likelihood.noise = torch.tensor([h["noise"]], dtype=dt)
            gp.mean_module.constant.data.fill_(h["mean_constant"])
            models.append(gp)
        model = ModelListGP(*models).eval()
        torch.manual_seed(int(req["seed"]))
        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([128]), seed=int(req["seed"]))
        acqf = qLogNoisyExpectedHypervolumeImprovement(
            model=model, ref_point=req["ref"], X_baseline=X, prune_baseline=False,
            sampler=sampler)
        bounds = torch.stack([torch.zeros(d, dtype=dt), torch.ones(d, dtype=dt)])
        kwargs = {}
        if req["domain"] == "simplex":
            kwargs["equality_constraints"] = [(torch.arange(d), torch.ones(d, dtype=dt), 1.0)]
        c0 = time.process_time()
        cand, val = optimize_acqf(acq_function=acqf, bounds=bounds, q=1,
                                  num_restarts=int(req.get("num_restarts", 10)),
                                  raw_samples=int(req.get("raw_samples", 512)),
                                  options={"batch_limit": 5, "maxiter": 200}, **kwargs)
        cpu = time.process_time() - c0
        with torch.no_grad():
            value = float(acqf(cand.view(1, 1, d)).item())
        base = acqf.base_sampler.base_samples.detach().reshape(128, n, m)
        full = acqf.sampler.base_samples.detach().reshape(128, n + 1, m)
        assert torch.equal(full[:, :n, :], base), "baseline base samples differ from the sampler's"
        state["acqf"] = acqf
        return {"x": cand.view(-1).tolist(), "value": value, "optimizer_value": float(val.item()),
                "cpu_s": cpu, "base_samples_baseline": base.reshape(128, n * m).tolist(),
                "base_samples_new": full[:, n, :].tolist()}

    def evaluate(req):
        x = torch.tensor(req["x"], dtype=dt)
        with torch.no_grad():
            return {"value": float(state["acqf"](x.view(1, 1, -1)).item())}

    handlers = {"hello": hello, "time_iteration": time_iteration, "optimize": optimize,
                "evaluate": evaluate}
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            reply = handlers[req["cmd"]](req)
        except BaseException as e:  # noqa: BLE001
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
