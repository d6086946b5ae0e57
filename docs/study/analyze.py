#!/usr/bin/env python3
"""Tables of the BOMF study (bomf_supersense_study) from its per-(task, seed) result files.

    python3 docs/study/analyze.py docs/study/raw > docs/study/tables.md

Reads <dir>/<task>-seed<k>-methods.csv, -searches.csv and -run.json (written by
examples/supersense/study.cpp) and prints Markdown: per task and split (decision, test) every
method's mean and standard deviation; the paired difference of every BOMF variant (anchor
configuration x selection rule) against every baseline with a 95 % percentile-bootstrap interval
over seeds and win/tie/loss counts; the comparisons the defaults are decided on (decision split,
pooled over tasks); how often each search was blind and how often BOMF returned one member;
validation-vs-held-out gaps; timings. Standard library only; deterministic (fixed bootstrap seeds).
"""
import csv
import glob
import json
import math
import os
import random
import statistics
import sys
import zlib

RESAMPLES = 10000
BASELINES = ["Best member", "Last checkpoint", "SWA", "Greedy SWA", "Learned SWA"]
ANCHORS = ["worst_member", "best_member", "best_member+move"]
RULES = ["best_metric_sum", "posterior_metric_sum"]
SPLITS = ["decision", "test"]


def method_id(row):
    if row["method"] == "BOMF":
        return "BOMF %s / %s" % (row["anchor"], row["rule"])
    return row["method"]


BOMF_IDS = ["BOMF %s / %s" % (a, r) for a in ANCHORS for r in RULES]
METHOD_IDS = BOMF_IDS + BASELINES


def load(directory):
    """{task: {seed: {method_id: row}}}, {task: {seed: {anchor: search row}}}, runs."""
    methods, searches, runs = {}, {}, {}
    for path in sorted(glob.glob(os.path.join(directory, "*-methods.csv"))):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                methods.setdefault(row["task"], {}).setdefault(int(row["seed"]), {})[
                    method_id(row)] = row
        stem = path[: -len("-methods.csv")]
        with open(stem + "-searches.csv", newline="") as f:
            for row in csv.DictReader(f):
                searches.setdefault(row["task"], {}).setdefault(int(row["seed"]), {})[
                    row["anchor"]] = row
        with open(stem + "-run.json") as f:
            run = json.load(f)
        runs[(run["task"], run["seed"])] = run
    return methods, searches, runs


def value(row, split, column="metric"):
    return float(row["%s_%s" % (split, column)])


def mean_std(values):
    m = statistics.fmean(values)
    s = statistics.stdev(values) if len(values) > 1 else float("nan")
    return m, s


def bootstrap_interval(groups, label):
    """95 % percentile interval of the mean of the pooled differences, resampling seeds within
    each group (one group per task) with replacement; the RNG is seeded from `label`."""
    rng = random.Random(zlib.crc32(label.encode()))
    total = sum(len(g) for g in groups)
    means = []
    for _ in range(RESAMPLES):
        means.append(sum(sum(rng.choices(g, k=len(g))) for g in groups) / total)
    means.sort()
    return means[int(0.025 * RESAMPLES)], means[int(math.ceil(0.975 * RESAMPLES)) - 1]


def wtl(diffs):
    return (sum(d > 0 for d in diffs), sum(d == 0 for d in diffs), sum(d < 0 for d in diffs))


def paired(methods, tasks, split, a, b, column="metric"):
    """Per-task lists of value(a) − value(b) on `split` over the seeds both have."""
    groups = []
    for task in tasks:
        seeds = sorted(methods[task])
        groups.append([value(methods[task][s][a], split, column) -
                       value(methods[task][s][b], split, column) for s in seeds])
    return groups


def fmt(v, digits=4):
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else "%.*f" % (digits, v)


def signed(v, digits=4):
    return "%+.*f" % (digits, v)


def comparison(methods, tasks, split, a, b, column="metric"):
    """(mean, low, high, wins, ties, losses) of value(a) − value(b) over the seeds."""
    groups = paired(methods, tasks, split, a, b, column)
    flat = [d for g in groups for d in g]
    lo, hi = bootstrap_interval(groups, "%s|%s|%s|%s|%s" % (",".join(tasks), split, a, b, column))
    return (statistics.fmean(flat), lo, hi) + wtl(flat)


def comparison_cell(c):
    return "%s [%s, %s] %d/%d/%d" % ((signed(c[0]), signed(c[1]), signed(c[2])) + c[3:])


def comparison_row(methods, tasks, split, a, b, label, column="metric"):
    c = comparison(methods, tasks, split, a, b, column)
    return "| %s | %s | [%s, %s] | %d / %d / %d |" % ((label, signed(c[0]), signed(c[1]),
                                                      signed(c[2])) + c[3:])


def method_table(methods, task, split, out):
    seeds = sorted(methods[task])
    metric_name = next(iter(methods[task][seeds[0]].values()))["metric_name"]
    out.append("| method | %s %s | %s accuracy | %s loss | val %s | val − %s %s | vertex |" % (
        split, metric_name, split, split, metric_name, split, metric_name))
    out.append("|---|---|---|---|---|---|---|")
    best = max(METHOD_IDS, key=lambda m: statistics.fmean(
        value(methods[task][s][m], split) for s in seeds))
    for m in METHOD_IDS:
        rows = [methods[task][s][m] for s in seeds]
        metric = mean_std([value(r, split) for r in rows])
        acc = mean_std([value(r, split, "accuracy") for r in rows])
        loss = mean_std([value(r, split, "loss") for r in rows])
        val = mean_std([value(r, "val") for r in rows])
        gap = statistics.fmean(value(r, "val") - value(r, split) for r in rows)
        vertex = sum(int(r["vertex"]) for r in rows)
        cell = "%s ± %s" % (fmt(metric[0]), fmt(metric[1]))
        out.append("| %s | %s | %s ± %s | %s ± %s | %s ± %s | %s | %d/%d |" % (
            m, "**%s**" % cell if m == best else cell, fmt(acc[0]), fmt(acc[1]), fmt(loss[0]),
            fmt(loss[1]), fmt(val[0]), fmt(val[1]), signed(gap), vertex, len(rows)))


def versus_baselines(methods, tasks, split, out):
    """Rows: BOMF variants; columns: baselines; cells: mean difference of the metric, its 95 %
    bootstrap interval, wins/ties/losses of BOMF."""
    out.append("| BOMF variant | " + " | ".join("− " + b for b in BASELINES) + " |")
    out.append("|---" * (len(BASELINES) + 1) + "|")
    for bomf in BOMF_IDS:
        out.append("| %s | %s |" % (bomf[5:], " | ".join(
            comparison_cell(comparison(methods, tasks, split, bomf, base)) for base in BASELINES)))


def decisions(methods, tasks, split, out):
    out.append("| comparison (metric) | mean diff | 95 % bootstrap CI | win / tie / loss |")
    out.append("|---|---|---|---|")
    for column in ["metric", "accuracy"]:
        for anchor in ANCHORS:
            out.append(comparison_row(
                methods, tasks, split, "BOMF %s / posterior_metric_sum" % anchor,
                "BOMF %s / best_metric_sum" % anchor,
                "%s: posterior_metric_sum − best_metric_sum%s" % (
                    anchor, "" if column == "metric" else " (accuracy)"), column))
    for rule in RULES:
        for a, b in [("best_member+move", "best_member"), ("worst_member", "best_member"),
                     ("worst_member", "best_member+move")]:
            out.append(comparison_row(methods, tasks, split, "BOMF %s / %s" % (a, rule),
                                      "BOMF %s / %s" % (b, rule), "%s: %s − %s" % (rule, a, b)))


def search_rows(searches, tasks):
    """(task, anchor, seeds, that anchor's search rows over the seeds) for every task and anchor."""
    for task in tasks:
        seeds = sorted(searches[task])
        for anchor in ANCHORS:
            yield task, anchor, seeds, [searches[task][s][anchor] for s in seeds]


def blindness(searches, methods, tasks, out):
    out.append("| task | anchor | blind searches | blind from evaluation (median) | blind "
               "evaluations (mean) | reference moved | HV after initial design (median) | final HV "
               "(median) | BOMF a vertex (observed / posterior rule) |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for task, anchor, seeds, rows in search_rows(searches, tasks):
        blind = [r for r in rows if int(r["first_blind"]) >= 0]
        first = [int(r["first_blind"]) for r in blind]
        moved = sum(int(r["reference_moved_at"]) >= 0 for r in rows)
        vert = [sum(int(methods[task][s]["BOMF %s / %s" % (anchor, rule)]["vertex"])
                    for s in seeds) for rule in RULES]
        out.append("| %s | %s | %d/%d | %s | %.1f | %d | %.3g | %.3g | %d / %d |" % (
            task, anchor, len(blind), len(rows),
            "%d" % statistics.median(first) if first else "—",
            statistics.fmean(int(r["blind_evaluations"]) for r in rows), moved,
            statistics.median(float(r["hypervolume_after_initial"]) for r in rows),
            statistics.median(float(r["final_hypervolume"]) for r in rows), vert[0],
            vert[1]))


def timings(searches, runs, tasks, out):
    out.append("| task | anchor | evaluations | new (mean) | GP fit [s] | acquisition [s] | "
               "evaluations, standalone [s] | wall [s] |")
    out.append("|---|---|---|---|---|---|---|---|")
    for task, anchor, _, rows in search_rows(searches, tasks):
        def m(c):
            return statistics.fmean(float(r[c]) for r in rows)
        out.append("| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            task, anchor, int(rows[0]["evaluations"]), m("new_evaluations"),
            m("fit_seconds"), m("acquisition_seconds"),
            m("standalone_evaluation_seconds"), m("wall_seconds")))
    out.append("")
    out.append("| task | stage | wall [s] mean | CPU [s] mean |")
    out.append("|---|---|---|---|")
    for task in tasks:
        stages = {}
        for (t, _), run in sorted(runs.items()):
            if t != task:
                continue
            for st in run["stages"]:
                stages.setdefault(st["stage"], []).append((st["wall_seconds"], st["cpu_seconds"]))
        for name, values in stages.items():
            out.append("| %s | %s | %.1f | %.1f |" % (
                task, name, statistics.fmean(v[0] for v in values),
                statistics.fmean(v[1] for v in values)))


def noise(methods, tasks, out):
    """How much of a validation advantage survives on held-out data. The splits are the same for
    every seed, so val − held-out of one method mixes a constant (how hard each split is for the
    metric) with selection: a method that picks its δ by the validation metric is optimistic on
    validation. SWA picks nothing, so (val − test) − SWA's (val − test) estimates the optimism of
    a method's choice. For methods that choose nothing (SWA, last checkpoint), the standard
    deviation over seeds of val − decision, / √2, is the seed-to-seed noise of the metric on one
    split of this size."""
    out.append("| task | method | sd(val − decision) / √2 | val − decision | val − test | "
               "(val − test) − SWA's |")
    out.append("|---|---|---|---|---|---|")
    for task in tasks:
        seeds = sorted(methods[task])

        def gaps(m, split):
            return [value(methods[task][s][m], "val") - value(methods[task][s][m], split)
                    for s in seeds]
        swa = statistics.fmean(gaps("SWA", "test"))
        for m in ["SWA", "Last checkpoint", "Learned SWA", "Best member", "Greedy SWA"] + BOMF_IDS:
            d = gaps(m, "decision")
            t = gaps(m, "test")
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                task, m, fmt(statistics.stdev(d) / math.sqrt(2)), signed(statistics.fmean(d)),
                signed(statistics.fmean(t)), signed(statistics.fmean(t) - swa)))


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                                   "raw")
    methods, searches, runs = load(directory)
    tasks = sorted(methods)
    out = ["# BOMF study: tables", "",
           "Generated by `python3 docs/study/analyze.py %s` from the files of "
           "`bomf_supersense_study`; do not edit by hand." % os.path.relpath(directory), ""]
    for task in tasks:
        seeds = sorted(methods[task])
        run = runs[(task, seeds[0])]
        out.append("- **%s**: %s; seeds %s; splits %s; budgets %s." % (
            task, run["description"], ", ".join(map(str, seeds)),
            ", ".join("%s %d" % kv for kv in run["splits"].items()),
            ", ".join("%s %s" % kv for kv in run["budgets"].items())))
    out.append("")
    out.append("Bootstrap: percentile, %d resamples of the seeds (within each task when tasks are "
               "pooled), fixed RNG seeds. Differences are in metric units (F1; 0.01 = one point); "
               "win / tie / loss counts seeds where the first method is above / equal to / below "
               "the second." % RESAMPLES)
    for split in SPLITS:
        out.append("")
        out.append("## %s split" % split.capitalize())
        for task in tasks:
            out.append("")
            out.append("### %s: every method (mean ± sd over seeds)" % task)
            out.append("")
            method_table(methods, task, split, out)
            out.append("")
            out.append("### %s: BOMF − each baseline, %s metric: mean [95 %% CI] wins/ties/losses"
                       % (task, split))
            out.append("")
            versus_baselines(methods, [task], split, out)
        out.append("")
        out.append("### Both tasks pooled: BOMF − each baseline, %s metric" % split)
        out.append("")
        versus_baselines(methods, tasks, split, out)
        out.append("")
        out.append("### Both tasks pooled: selection rule and anchor (%s metric)" % split)
        out.append("")
        decisions(methods, tasks, split, out)
        for task in tasks:
            out.append("")
            out.append("### %s: selection rule and anchor (%s metric)" % (task, split))
            out.append("")
            decisions(methods, [task], split, out)
    out.append("")
    out.append("## Blind searches and single-member results")
    out.append("")
    blindness(searches, methods, tasks, out)
    out.append("")
    out.append("## Validation noise and selection gaps")
    out.append("")
    noise(methods, tasks, out)
    out.append("")
    out.append("## Time (means over seeds)")
    out.append("")
    timings(searches, runs, tasks, out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
