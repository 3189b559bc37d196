"""Shared scoring for the eval-face and eval-music commands (contract in DESIGN.md)."""

from __future__ import annotations

from collections.abc import Sequence


def classification_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict:
    """`{"n", "accuracy", "macro_f1", "per_class": {label: recall}, "confusion"}` over the labels
    present in `y_true` (a subset is fine: absent classes would distort macro-F1)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    present = [lab for lab in labels if lab in set(y_true)]
    if not present:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0, "per_class": {}, "confusion": []}
    recalls = recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_class": {lab: float(r) for lab, r in zip(present, recalls)},
        "labels": present,
        "confusion": confusion_matrix(y_true, y_pred, labels=present).tolist(),
    }


def print_report(report: dict, as_json: bool) -> int:
    """Print an evaluation report for the CLI: JSON on stdout, or a short table."""
    import json

    if as_json:
        print(json.dumps(report))
        return 0
    print(f"n={report['n']}  accuracy={report['accuracy']:.4f}  macro-F1={report['macro_f1']:.4f}")
    for label, recall in report["per_class"].items():
        print(f"  {label:10s} recall {recall:.3f}")
    return 0
