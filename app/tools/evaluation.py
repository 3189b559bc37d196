"""The one metrics report: eval-face, eval-music (contract in DESIGN.md) and both trainings."""

from __future__ import annotations

from collections.abc import Sequence


def classification_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict:
    """`{"n", "accuracy", "macro_f1", "per_class": {label: recall}, "labels", "confusion"}`.

    Over the labels present in `y_true`, in the order of `labels` (a subset is fine: absent
    classes would distort macro-F1); `confusion` rows are the true label, columns the predicted
    one, both in `labels` order."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    truth = set(y_true)
    present = [lab for lab in labels if lab in truth]
    if not present:
        return {"n": 0, "accuracy": 0.0, "macro_f1": 0.0, "per_class": {}, "labels": [], "confusion": []}
    recalls = recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_class": {lab: float(r) for lab, r in zip(present, recalls, strict=True)},
        "labels": present,
        "confusion": confusion_matrix(y_true, y_pred, labels=present).tolist(),
    }


def print_figures(figures: dict, as_json: bool) -> int:
    """Print a flat dict of figures for the CLI (bench, eval-detect): JSON on stdout, or one
    aligned `name value` line each."""
    import json

    if as_json:
        print(json.dumps(figures))
        return 0
    width = max((len(key) for key in figures), default=0) + 2
    for key, value in figures.items():
        print(f"{key:{width}s} {value}")
    return 0


def print_report(report: dict, as_json: bool) -> int:
    """Print an evaluation report for the CLI: JSON on stdout, or a short table."""
    import json

    if as_json:
        print(json.dumps(report))
        return 0
    print(f"n={report['n']}  accuracy={report['accuracy']:.4f}  macro-F1={report['macro_f1']:.4f}")
    for label, recall in report["per_class"].items():
        print(f"  {label:10s} recall {recall:.3f}")
    for dim in ("valence", "arousal"):
        if f"{dim}_spearman" in report:
            print(f"  {dim} Spearman {report[f'{dim}_spearman']:.3f} (n={report[f'n_{dim}']})")
    return 0


def update_metrics(name: str, **entries: object) -> dict:
    """Write `entries` into the JSON object `models/<name>`, keeping its other keys (each
    evaluation owns its entries; the model card reads them all). Returns the whole object."""
    import json

    from app.config import MODELS_DIR

    path = MODELS_DIR / name
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    metrics.update(entries)
    path.write_text(json.dumps(metrics, indent=1))
    return metrics
