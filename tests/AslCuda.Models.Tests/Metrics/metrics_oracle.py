"""validate.py's metrics written with numpy and torch from TRESNET.md 3.2 and 3.3 (our own code), as an oracle.

stdin: {"scores": [[...]], "targets": [[...]], "threshold": t} (rows = samples); stdout: JSON with ap (per class),
map, and p_c, r_c, f_c, p_o, r_o, f_o plus the per-class lists, computed the way the script computes them: numpy's
reversed argsort for the ranking, float32 tensors and gt(threshold) for the counts.
"""
import json
import sys

import numpy as np
import torch


def average_precision(scores, targets):
    order = np.argsort(scores)[::-1]
    hits = targets[order] == 1
    positives_so_far = np.cumsum(hits)
    ranks = np.arange(1, len(scores) + 1, dtype=np.float64)
    precision_at_hits = np.where(hits, positives_so_far / ranks, 0.0)
    return precision_at_hits.sum() / (positives_so_far[-1] + 1e-8)


def main():
    job = json.load(sys.stdin)
    scores = np.array(job["scores"], dtype=np.float32)
    targets = np.array(job["targets"], dtype=np.float32)
    ap = [float(average_precision(scores[:, k], targets[:, k])) for k in range(scores.shape[1])]

    output = torch.from_numpy(scores)
    target = torch.from_numpy(targets).long()
    pred = output.gt(job["threshold"]).long()
    tp = (pred + target).eq(2).sum(dim=0)
    fp = (pred - target).eq(1).sum(dim=0)
    fn = (pred - target).eq(-1).sum(dim=0)
    p_c = [float(tp[k].float() / (tp[k] + fp[k]).float()) * 100.0 if tp[k] > 0 else 0.0 for k in range(len(tp))]
    r_c = [float(tp[k].float() / (tp[k] + fn[k]).float()) * 100.0 if tp[k] > 0 else 0.0 for k in range(len(tp))]
    f_c = [2 * p_c[k] * r_c[k] / (p_c[k] + r_c[k]) if tp[k] > 0 else 0.0 for k in range(len(tp))]
    p_o = float(tp.sum().float() / (tp + fp).sum().float() * 100.0)
    r_o = float(tp.sum().float() / (tp + fn).sum().float() * 100.0)
    json.dump({
        "ap": ap, "map": 100 * float(np.mean(ap)),
        "tp": tp.tolist(), "fp": fp.tolist(), "fn": fn.tolist(),
        "precision": p_c, "recall": r_c, "f1": f_c,
        "p_c": sum(p_c) / len(p_c), "r_c": sum(r_c) / len(r_c), "f_c": sum(f_c) / len(f_c),
        "p_o": p_o, "r_o": r_o, "f_o": 2 * p_o * r_o / (p_o + r_o),
    }, sys.stdout)


if __name__ == "__main__":
    main()
