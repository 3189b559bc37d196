"""Write models/MODEL_CARD.md from the metrics files the training scripts leave in models/.

    python -m app.tools.model_card      (after python -m app.vision.train --export
                                          and python -m app.music.train)

Only measured figures go in: every number below comes from face_metrics.json,
music_metrics.json or bench.json, all written by code in this repository.
"""

from __future__ import annotations

import json

from app.config import FACE_MODEL_FILE, FRAGMENT_BELOW_S, MODELS_DIR, MUSIC_MODEL_FILE
from app.emotions import FACE_LABELS, QUADRANTS
from app.music.tagger import FRAGMENT_CONFIDENCE, REVIEW_BELOW
from app.music.train import TAG_BUDGET_S

TRAIN_FACE = "python -m app.vision.train --data ../shared/data/fer2013"


def _load(name: str) -> dict | None:
    path = MODELS_DIR / name
    return json.loads(path.read_text()) if path.exists() else None


def _count(v: float) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)  # means over repeated splits are fractional


def _confusion_table(labels: list[str], matrix: list[list[float]]) -> str:
    head = "| true \\ predicted | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels) + "\n"
    return head + "".join(
        f"| **{lab}** | " + " | ".join(_count(v) for v in row) + " |\n" for lab, row in zip(labels, matrix, strict=True)
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
    if clean.get("confusion"):
        return (
            head
            + " The recall table and confusion matrix below are on that split too. The per-net and per-variant"
            + " val accuracies above were measured at export on all PublicTest images, copies included: they"
            + " rank the nets and variants against each other, and the figures here are the clean ones."
        )
    return (
        head
        + " The recall table and confusion matrix below are on all PublicTest images"
        + " (the export that made them predates the split)."
    )


def _worst_confusions(labels: list[str], matrix: list[list[float]], k: int = 4) -> str:
    """The largest off-diagonal cells: which true label is read as which, and how often."""
    cells = [
        (matrix[i][j] / max(sum(matrix[i]), 1), labels[i], labels[j], matrix[i][j])
        for i in range(len(labels))
        for j in range(len(labels))
        if i != j and matrix[i][j]
    ]
    return "; ".join(
        f"{true} read as {pred} {share * 100:.0f} % ({_count(n)})" for share, true, pred, n in sorted(cells)[::-1][:k]
    )


def _dev_row(name: str, d: dict) -> str:
    fp, fl, ck = d["ferplus_plurality"], d["fer2013_labels"], d.get("ckplus") or {}
    ck_all = d.get("ckplus_all_dev_subjects") or {}
    cells = [
        f"{fp['accuracy']:.4f} (macro-F1 {fp['macro_f1']:.4f})",
        f"{fl['accuracy']:.4f} (macro-F1 {fl['macro_f1']:.4f})",
        f"{ck['accuracy']:.4f} ({ck.get('subjects')} subjects, {ck['n']} faces)" if ck else "—",
        f"{ck_all['accuracy']:.4f} ({ck_all.get('subjects')} subjects)" if ck_all else "—",
    ]
    return f"| {name} | " + " | ".join(cells) + " |\n"


def _dev_measures(m: dict) -> str:
    """Every dev measure of the served model (and of the one it replaced), its confusion matrix
    against the FER+ plurality, and what it still gets wrong; from `dev` in face_metrics.json
    (`python -m app.vision.train --measure`, or `--export`)."""
    dev = m.get("dev")
    if not dev:
        return ""
    rows = _dev_row("served", dev) + (_dev_row("before this export", m["dev_before"]) if m.get("dev_before") else "")
    fold = dev.get("ckplus_fold") or {}
    ck_scope = (
        f"CK+ on the subjects of fold {fold.get('fold')} of {fold.get('of')} subject-grouped folds of `ckplus_dev`"
        " (held out of the fine-tune), and on all dev subjects (a fair figure only for a model that never trained"
        " on CK+)."
        if fold.get("fold", 0) >= 0
        else "CK+ below the table."
    )
    cv = dev.get("ckplus_subject_cv")
    cv_line = (
        f"\nThe served nets trained on every CK+ dev subject, so their CK+ figure is the refit's subject-grouped"
        f" {cv['folds']}-fold cross-validation (each fold read by a fit that never saw its subjects):"
        f" **{cv['accuracy']:.4f}** (folds {', '.join(f'{a:.3f}' for a in cv['per_fold'])}).\n"
        if cv
        else ""
    )
    fp = dev["ferplus_plurality"]
    labels = list(FACE_LABELS)
    weakest = sorted(fp["per_class"].items(), key=lambda kv: kv[1])[:3]
    ck = dev.get("ckplus") or {}
    ck_weak = sorted((ck.get("per_class") or {}).items(), key=lambda kv: kv[1])[:2]
    return f"""
**Dev measures** (`python -m app.vision.train --measure`, through the serving code): FER+ plurality is
the label most of FER+'s ten annotators gave (Barsoum et al. 2016; images whose plurality is
"unknown" or "not a face" left out, contempt votes dropped; a prediction tied at the top counts),
on de-duplicated val; FER2013 labels on the same faces; {ck_scope}

| model | FER+ plurality | FER2013 labels | CK+ held-out fold | CK+ all dev subjects |
|---|---|---|---|---|
{rows}{cv_line}
Confusion matrix against the FER+ plurality ({fp["n"]} faces; rows: plurality label, first of a tie):

{_confusion_table(labels, fp["confusion"])}
**What it still gets wrong**: {_worst_confusions(labels, fp["confusion"])}. Weakest FER+ recall:
{", ".join(f"{lab} {r:.3f}" for lab, r in weakest)}.{
        " On CK+'s posed faces the weakest: " + ", ".join(f"{lab} {r:.3f}" for lab, r in ck_weak) + "."
        if ck_weak
        else ""
    }
"""


def _finetune_runs(runs: dict | None) -> str:
    """The recorded fine-tune runs (`models/face_finetune_runs.json`): options, data hash and
    every epoch's dev figures, so the card's recipe comes from what ran."""
    if not runs:
        return ""
    out = (
        "\n**Fine-tune runs** (`python -m app.vision.train`, from the committed checkpoints; "
        "recorded with `--record`):\n\n"
    )
    for name, run in runs.items():
        o = run["options"]
        curve = ", ".join(
            f"{h['epoch']}: {h['ferplus_plurality']['accuracy']:.3f} / {h['fer2013_labels']['accuracy']:.3f}"
            + (f" / {h['ckplus']['accuracy']:.3f}" if h.get("ckplus") else "")
            for h in run["history"]
        )
        start = run["start"]
        progress = f"{len(run['history'])} epochs done. FER+ plurality / FER2013 labels / CK+ held-out by epoch"
        if o.get("trainable") == "head":
            cv = run["history"][-1].get("ckplus_subject_cv") if run["history"] else None
            kind = (
                f"the last two layers refit on frozen convolutional features (`app.vision.head_refit`), "
                f"{o['epochs']} epochs × {o['batch']} faces"
            )
            progress = "FER+ plurality / FER2013 labels before and after the refit (after: its epoch count)"
            curve += (
                f"; CK+ by subject-grouped {cv['folds']}-fold CV {cv['accuracy']:.3f} "
                f"(folds {', '.join(f'{a:.3f}' for a in cv['per_fold'])})"
                if cv
                else ""
            )
        else:
            kind = f"{o['epochs']} epochs of {run['steps_per_epoch']} steps × {o['batch']} faces"
        out += (
            f"- `{name}`: {kind} "
            f"({run['n_train']:,} training faces, data sha256 {run['data_sha256'][:12]}…), AdamW peak LR {o['lr']}, "
            f"FER2013's label counted as {o['fer2013_votes']} extra votes, CK+ ×{o['ck_repeat']}, seed {o['seed']}; "
            f"{progress}: "
            f"start {start['ferplus_plurality']['accuracy']:.3f} / {start['fer2013_labels']['accuracy']:.3f}"
            + (f" / {start['ckplus']['accuracy']:.3f}" if start.get("ckplus") else "")
            + f", {curve}."
            + (f" Best epoch's nets: `{run['kept_best']}` (go on with `--init`)." if run.get("kept_best") else "")
            + "\n"
        )
    return out


def _refit_line(finetune: dict | None) -> str:
    """How the served nets differ from the members above, when the export was a head refit."""
    if not finetune or finetune["options"].get("trainable") != "head":
        return ""
    o = finetune["options"]
    return (
        "  - **Then, served now**: both nets' last two layers (hidden and logits) refit on their frozen "
        "convolutional features (`app.vision.head_refit`), towards the FER+ vote distributions with FER2013's "
        f"label as {o['fer2013_votes']:g} extra votes and CK+'s posed faces (all dev subjects, ×{o['ck_repeat']}); "
        f"{o['epochs']} epochs, AdamW LR {o['lr']}, seed {o['seed']}. No class weights, so no prior correction.\n"
    )


def face_section(m: dict | None, bench: dict | None) -> str:
    if m is None:
        return "## Face expression model\n\nNot trained yet (`models/face_metrics.json` missing).\n"
    # The table and matrix on val without its training copies when measured (`app.vision.splits`).
    clean = (m.get("val_dedup") or {}).get("without_duplicates", {})
    per_class, confusion = (
        (clean["per_class"], clean["confusion"]) if clean.get("confusion") else (m["per_class"], m["confusion"])
    )
    rows = "".join(f"| {lab} | {per_class[lab]:.3f} |\n" for lab in FACE_LABELS)
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
            f"{bench.get('classifier_ms_per_face')} ms per face (with flip averaging); a live frame "
            f"(640×480 astronaut photo: detect + classify + overlay, detecting on every frame) median "
            f"{bench.get('frame_ms_p50_detect_every_frame')} ms (the face detector section says how).\n"
        )
    runs = _finetune_runs(_load("face_finetune_runs.json"))
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
{"".join(_member(member) for member in members)}{_refit_line(m.get("finetune"))}\
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

{_confusion_table(list(FACE_LABELS), confusion)}{_dev_measures(m)}{runs}{speed}
**Limits**: FER2013 faces are mostly frontal, low-resolution web images; accuracy drops for
profile views, strong lighting and faces under ~40 px. Disgust and fear are the weakest classes.
Expression is not emotion: the app treats it as a hint for music, never as a judgement.
"""


DETECTOR_NAMES = {
    "haar-320": "Haar cascade, 320 px wide, min 18 % of height (previous)",
    "haar-640": "Haar cascade, full 640 px, no min size",
    "yunet-240": "YuNet (LiteRT), 240 px wide",
    "yunet-320": "YuNet (LiteRT), 320 px wide",
    "yunet-native-320": "YuNet (the yuface library it was converted from), 320 px wide",
    "yunet-640": "YuNet (LiteRT), full 640 px",
    "blazeface-short": "BlazeFace short-range (MediaPipe), 128 px input",
    "blazeface-full": "BlazeFace full-range sparse (MediaPipe), 192 px input",
}


_HEIGHT_BINS = ("0-60", "60-100", "100-160", "160+")


def _bins(by_height: dict) -> str:
    return " | ".join(f"{by_height[b]:.3f}" if by_height.get(b) is not None else "–" for b in _HEIGHT_BINS)


def _tracking(t: dict | None) -> str:
    if not t:
        return ""
    rows = "".join(
        f"| {name} | {r['recall']:.3f} | {r['precision']:.3f} | {_bins(r['by_height'])} "
        f"| {r['ms_per_frame_p50']} | {r['ms_per_frame_p95']} |\n"
        for name, r in (
            ("whole frame, every frame", t["full_frame_search"]),
            (f"live stream (around each face; whole frame every {t['full_frame_every']})", t["live_stream"]),
        )
    )
    from app.vision.analyzer import MAX_FOLLOWED
    from app.vision.detector import TRACK_CONTEXT, TRACK_FACE_PX

    p = t["path"]
    return f"""
**Following faces between frames** (`python -m app.vision.evaluate_track`): each of the {t["n_clips"]}
photos becomes a {t["frames_per_clip"]}-frame clip that moves up to {p["shift_px"][0]:.0f} px across,
{p["shift_px"][1]:.0f} px up and down, ±{p["scale"] * 100:.0f} % in size and ±{p["turn_deg"]:.0f}°, its labelled boxes
moved along ({t["n_faces_per_frame_total"]:,} faces over all frames). Both detect on every frame:

| search | recall | precision | recall 0-60 px | 60-100 | 100-160 | 160+ | ms / frame p50 | p95 |
|---|---|---|---|---|---|---|---|---|
{rows}
Between full-frame searches the live stream runs YuNet only on a square {TRACK_CONTEXT:g} times the size of
each face it has, scaled so that the face is {TRACK_FACE_PX} px tall for the CNN; it searches the whole
frame again when a face is lost, when more than {MAX_FOLLOWED} are in view, and every {t["full_frame_every"]}
frames (so a newcomer waits at most that long). Scaling each face to the detector's best size is
why it finds more of the small faces it has once found, and searching less of the frame is why it
makes fewer false detections; a face missed by one full-frame search waits for the next, which is
what it gives up on the largest faces. The times are wall-clock on the shared machine during this
run: compare the two rows with each other; `bench` below gives the app's figures.
"""


def _agreement_rows(agree: dict) -> str:
    names = {
        "served_vs_haar": "YuNet crop (eyes levelled) vs Haar-box crop",
        "served_vs_labelled_box": "YuNet crop vs labelled-box crop",
        "haar_vs_labelled_box": "Haar-box crop vs labelled-box crop",
        "followed_vs_served": "live stream's followed box vs full-frame YuNet box",
        "served_1px_shifted_vs_served": "noise floor: YuNet on the photo moved by 1 px vs YuNet",
    }

    def cells(r: dict) -> str:
        if not r.get("n_faces"):
            return "– | – | –"
        return f"{r['n_faces']} | {r['label_agreement'] * 100:.1f} % | {r['mean_total_variation']}"

    return "".join(
        f"| {label} | {cells(agree[key])} | {cells(agree[key].get('faces_100px_plus', {}))} |\n"
        for key, label in names.items()
        if agree.get(key, {}).get("n_faces")
    )


def _expression_agreement(agree: dict | None) -> str:
    if not agree:
        return ""
    ratio = agree.get("served_box_height_over_labelled")
    ratio_text = (
        f" YuNet's boxes are {ratio:.2f} times as tall as the WIDER labels (median), so the labelled-box crops are"
        " framed a little differently."
        if ratio
        else ""
    )
    return f"""
**Does a face's expression depend on which detector found it?** (`compare_detectors`,
`expression_agreement`): the labelled faces, each cropped as the app crops it from different boxes
and read by the served classifier; agreement is the share of faces given the same label, TV the
mean total-variation distance between the two distributions.{ratio_text}

| crops compared | faces | same label | TV | faces ≥ 100 px | same label | TV |
|---|---|---|---|---|---|---|
{_agreement_rows(agree)}
Moving a photo by one pixel already changes the label of about
{(1 - agree.get("served_1px_shifted_vs_served", {}).get("label_agreement", float("nan"))) * 100:.0f} % of these
faces: on real photos many faces sit near a boundary between two expressions. The other pairs
should be read against that floor; the app's smoother averages readings over about a second.
"""


def _crop_check(c: dict | None) -> str:
    if not c:
        return ""
    by_scale = ", ".join(f"{float(s):.1f}: {acc:.4f}" for s, acc in c["accuracy_recropped_by_scale"].items())
    b = c["box_in_fer_crop_px_median"]
    unlevelled = f"{c['accuracy_recropped_unlevelled']:.4f}" if "accuracy_recropped_unlevelled" in c else "not measured"
    return f"""
**Are the crops the ones the classifier expects?** (`crop_check`): the {c["n_images"]} images of
{c["data"]}, each enlarged 3× with a replicated border, go through YuNet and the app's crop; YuNet
finds {c["n_found"]}. On FER2013's own 48×48 crops its box is {b["w"]:.0f}×{b["h"]:.0f} px, centred at
({b["centre_x"]:.0f}, {b["centre_y"]:.0f}): the crop is about as tall as YuNet's box and centred on it, which is
how the app crops (a square of the box's longer side, about its centre, eyes levelled). Accuracy on
those faces: {c["accuracy_as_given"]:.4f} on the crops as given, and on the app's re-crops by crop
scale {by_scale} (served: {c["served_scale"]}), and {unlevelled} without levelling the eyes; the
served re-crop gives the same label as the original for {c["recropped_vs_given"]["label_agreement"] * 100:.1f} % of
them. A square 10 % smaller or larger reads no better, and levelling makes no measurable difference
on these upright faces (it is for tilted ones, which the tilted-face test covers): what the re-crop
loses comes from the enlarging, resampling and box jitter rather than from the framing.
"""


def _misses(served: dict, cond: dict | None) -> str:
    text = (
        f"**What it still misses**: on this set, about {(1 - served['by_height']['0-60']) * 100:.0f} % of faces under"
        f" 60 px tall and {(1 - served['by_height']['60-100']) * 100:.0f} % of those 60-100 px (a listener far from"
        f" the camera, or people in a crowd), {(1 - served['by_height']['100-160']) * 100:.0f} % of those 100-160 px"
        f" and {(1 - served['by_height']['160+']) * 100:.0f} % of those taller."
    )
    if not cond:
        return text + " The set's labels don't say which faces are turned, occluded or dim.\n"
    rows = ""
    for scope, label in (("all", "all faces"), ("100px+", "faces ≥ 100 px")):
        c = cond[scope]
        cells = " | ".join(
            " / ".join(f"{c[k][t]['recall']:.2f}" for t in c[k])
            for k in ("sharpness", "brightness", "width_over_height")
        )
        rows += f"| {label} ({c['n_faces']}) | {cells} |\n"
    return (
        text
        + """ The WIDER labels here carry no blur, occlusion or pose flags, so recall is split by
measured proxies instead (`misses_by_condition`), each in thirds of the faces: sharpness
(variance of the Laplacian of the face box, resized to 64 px), brightness (mean grey) and shape
(width / height; a turned face is narrower). Recall per third:

| faces | blurriest / middle / sharpest | darkest / middle / brightest | narrowest / middle / widest |
|---|---|---|---|
"""
        + rows
        + """
Over all faces, sharpness is mixed up with size (a small face enlarged to 64 px looks blurred);
the row of faces 100 px and taller separates them. Among those, light and blur cost little; the
faces it misses most are the widest boxes (a tilted or lying head, a face cut by a hand or by the
photo's edge: what makes them wide is not labelled). Precision counts any unlabelled face it finds
as a false detection.
"""
    )


def detector_section(m: dict | None, bench: dict | None) -> str:
    if m is None:
        return "## Face detector\n\nNot compared yet (`models/detector_metrics.json` missing).\n"
    rows = ""
    for name, r in m["candidates"].items():
        mark = " **(served)**" if name == m["served"] else ""
        rows += (
            f"| {DETECTOR_NAMES.get(name, name)}{mark} | {r['recall']:.3f} | {r['precision']:.3f} | "
            f"{_bins(r['by_height'])} | {r['ms_640x480_p50']} | {r['memory_mb']} |\n"
        )
    served = m["candidates"][m["served"]]
    n = served["n_by_height"]
    speed = ""
    if bench:
        speed = (
            f"\n**Speed in the app** (`python -m app bench`, 640×480 astronaut photo moving along the clip path,"
            f" one thread, on a machine shared with other jobs): detect + classify + overlay on every frame"
            f" **{bench.get('frame_ms_p50_detect_every_frame')} ms** median (p95 {bench.get('frame_ms_p95')} ms, the"
            f" frames with a full-frame search); with the whole frame searched on every frame"
            f" {bench.get('frame_ms_p50_full_frame_detect')} ms. Detection alone: whole frame"
            f" {bench.get('detect_ms_p50')} ms, around one face {bench.get('follow_detect_ms_p50')} ms; classifier"
            f" {bench.get('classifier_ms_per_face')} ms per face. On the Mood page (one listener, frames of a moving"
            f" face handed over at 30 fps in real time, the analyses' CPU budget in `app.listening.live`) a share of"
            f" {bench.get('live_frames_analysed_share_30fps')} of the camera's frames is analysed; the rest reuse the"
            f" last faces.\n"
        )
    return f"""## Face detector — YuNet (from the `yuface` wheel, run on LiteRT)

The live page detects on every frame with libfacedetection's YuNet (BSD-3; the `yuface` wheel has
the weights compiled in, nothing is downloaded). That library was built without AVX2, so
`python -m app.vision.convert_yunet` reads its weights back out of it into
`models/face_detector_yunet.tflite`, which LiteRT's XNNPACK kernels run several times faster; the
conversion is written only when it finds the same faces as the library, boxes and landmarks within
the library's whole-pixel rounding (`tests/test_detector_conversion.py` checks the committed file).
It searches the whole frame downscaled to 320 px wide,
and, between full-frame searches, around each face already found (below). Its landmarks level the
eyes before the 48×48 crop (one affine warp). Chosen from this comparison
(`python -m app.vision.compare_detectors`, on `{m["data"]}`: {served["n_images"]} WIDER FACE
photos 640 px wide, {served["n_faces"]} faces; {n["0-60"]} / {n["60-100"]} / {n["100-160"]} / {n["160+"]} in the
height bins below; one thread; memory is the process's growth from loading and running it):

| detector | recall | precision | recall 0-60 px | 60-100 | 100-160 | 160+ | ms / 640×480 | MB |
|---|---|---|---|---|---|---|---|---|
{rows}
Recall and precision at IoU ≥ 0.5, greedy matching (`python -m app eval-detect DIR` scores the
served detector the same way, on whole frames). YuNet at 320 px finds the faces a webcam listener
shows (100 px and taller) far more often than Haar did, and costs less than Haar's multi-scale
scan; at 240 px it is faster but loses faces 100-160 px tall, and at full resolution it adds small
faces only, at several times the cost. BlazeFace short-range is the fastest but, tuned for faces
near a phone camera, it loses most faces under 100 px; the full-range model trails YuNet at 320 px
in every size bin. Times are the lowest of five block medians on a shared machine, so compare them
with each other rather than across machines.
{_tracking(m.get("tracking"))}{speed}{_expression_agreement(m.get("expression_agreement"))}\
{_crop_check(m.get("crop_check"))}
{_misses(served, m.get("misses_by_condition"))}"""


def _f(r: dict, key: str, fmt: str) -> str:
    return format(r[key], fmt) if key in r else "–"


def _set_row(name: str, r: dict) -> str:
    review = f"{r['needs_review_share'] * 100:.0f} %" if "needs_review_share" in r else "–"
    return (
        f"| {name} | {r.get('n', '–')} | {_f(r, 'macro_f1', '.4f')} | {_f(r, 'accuracy', '.4f')} "
        f"| {_f(r, 'va_quadrant_agreement', '.4f')} | {_f(r, 'valence_spearman', '.3f')} "
        f"| {_f(r, 'arousal_spearman', '.3f')} | {review} | {_f(r, 'accuracy_confident', '.4f')} |\n"
    )


SET_NAMES = {
    "4q": "4Q (artist-grouped, aliases merged)",
    "emotify": "Emotify",
    "musifeast17": "MUSIFEAST-17 (artist-grouped)",
}


# The music model's headline figures (train.SPREAD_KEYS) as the card names and prints them.
_HEADLINE = {
    "4q_macro_f1": ("4Q macro-F1", ".4f"),
    "4q_valence_spearman": ("4Q valence ρ", ".3f"),
    "4q_arousal_spearman": ("4Q arousal ρ", ".3f"),
    "emotify_accuracy": ("Emotify agreement", ".4f"),
    "emotify_valence_spearman": ("Emotify valence ρ", ".3f"),
    "emotify_arousal_spearman": ("Emotify arousal ρ", ".3f"),
    "musifeast17_valence_spearman": ("MUSIFEAST-17 valence ρ", ".3f"),
    "musifeast17_arousal_spearman": ("MUSIFEAST-17 arousal ρ", ".3f"),
}


def _spread_line(best: dict) -> str:
    spread = best.get("spread")
    if not spread:
        return ""
    parts = ", ".join(f"{label} ±{spread[k]:{fmt}}" for k, (label, fmt) in _HEADLINE.items() if k in spread)
    return (
        f"\nMeans over {len(best['seeds'])} random grouped splits; their standard deviation across the splits: "
        f"{parts}. Counts in the confusion matrix are means too.\n"
    )


def _moves(ft: dict, run: str) -> tuple[list[str], list[str]]:
    """The headline figures on which `run` is higher / lower than the frozen nets by more than
    the frozen figure's spread across the splits."""
    frozen, other = ft["frozen"], ft[run]
    higher = [label for k, (label, _) in _HEADLINE.items() if other[k] > frozen[k] + frozen["spread"][k]]
    lower = [label for k, (label, _) in _HEADLINE.items() if other[k] < frozen[k] - frozen["spread"][k]]
    return higher, lower


def _verdict(what: str, higher: list[str], lower: list[str]) -> str:
    gains = f"gains on {', '.join(higher)}" if higher else "gains on no figure by more than the spread"
    losses = f"loses on {', '.join(lower)}" if lower else "loses nowhere by more than the spread"
    return f"{what} {gains}; it {losses}."


def music_finetune_section(ft: dict | None, selected: str | None = None) -> str:
    """What fine-tuning the vgg nets' last block measured (`python -m app.music.finetune`, its
    finetune_metrics.json copied to models/music_finetune_metrics.json); `selected` is the served
    music model's recipe."""
    if not ft:
        return ""
    runs = ("frozen", "fine_tuned", "hybrid")
    rows = "".join(
        f"| {label} | " + " | ".join(f"{ft[r][k]:{fmt}} ± {ft[r]['spread'][k]:{fmt}}" for r in runs) + " |\n"
        for k, (label, fmt) in _HEADLINE.items()
    )
    served = (
        "The served model is the hybrid."
        if selected == ft["hybrid_recipe"]
        else "The served model is not the hybrid (see its recipe above)."
    )
    o = ft["options"]
    return f"""
**Fine-tuning the nets' last block** (`python -m app.music.finetune`, CPU): block 5 of MSD_vgg and
MTT_vgg (a 3x3 convolution, its batch norm, the last pooling) trained per fold, with a quadrant and a
valence/arousal head, on the fold's training clips ({o["epochs"]} epochs, Adam {o["learning_rate"]:g},
dropout {o["dropout"]:g}); blocks 1-4 stay frozen. The frozen nets' recipe (`{ft["recipe"]}`) is
then fitted on the tuned nets' outputs, and as a hybrid whose classifier (and so the attention over
segments) reads the tuned nets and whose valence/arousal regressor reads the frozen ones
(`{ft["hybrid_recipe"]}`); each tags the held-out clips, on the same grouped splits (seeds
{", ".join(str(s) for s in ft["seeds"])}) as the frozen nets:

| figure | frozen nets | block 5 fine-tuned | hybrid |
|---|---|---|---|
{rows}
{_verdict("Fine-tuned throughout, the recipe", *_moves(ft, "fine_tuned"))}
{_verdict("The hybrid", *_moves(ft, "hybrid"))} {served}
"""


def _candidate_row(name: str, r: dict) -> str:
    mf = r.get("musifeast17", {})
    return (
        f"| {name} | {r['4q']['macro_f1']:.4f} | {r['emotify']['accuracy']:.4f} "
        f"| {r['4q']['valence_spearman']:.3f} / {r['emotify']['valence_spearman']:.3f} / "
        f"{_f(mf, 'valence_spearman', '.3f')} "
        f"| {r['4q']['arousal_spearman']:.3f} / {r['emotify']['arousal_spearman']:.3f} / "
        f"{_f(mf, 'arousal_spearman', '.3f')} "
        f"| {' / '.join(str(r.get('demo_quadrants', {}).get(q, '?')) for q in QUADRANTS)} "
        f"| {r.get('tag_s_5min', '–')} |\n"
    )


def music_section(m: dict | None, bench: dict | None) -> str:
    if m is None or "4q" not in next(iter(m.get("results", {}).values()), {}):
        return "## Music mood model\n\nNot trained yet (`models/music_metrics.json` missing or old).\n"
    best = m["results"][m["selected"]]
    header = (
        "| set | clips | macro-F1 | quadrant agreement | point's quadrant agreement | valence Spearman "
        "| arousal Spearman | needs review | agreement when confident |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    sets = "".join(_set_row(label, best[key]) for key, label in SET_NAMES.items() if key in best)
    genres = "".join(
        _set_row(f"{SET_NAMES[key].split(' (')[0]}: {g}", r)
        for key in SET_NAMES
        for g, r in best.get(f"{key}_by_genre", {}).items()
    )
    rec = "".join(f"| {q} | {best['4q']['per_class'][q]:.3f} |\n" for q in QUADRANTS)
    table = "".join(
        _candidate_row(name, r) for name, r in sorted(m["results"].items(), key=lambda kv: -kv[1]["4q"]["macro_f1"])
    )
    merged = m.get("alias_merge", {})
    aliases = "; ".join(" / ".join(names) for names in merged.get("merged", {}).values())
    speed = ""
    if bench:
        speed = (
            f"\n**Latency** (`python -m app bench`, one thread): {bench.get('music_tag_s_30s')} s for a 30 s clip, "
            f"{bench.get('music_tag_s_5min')} s for a 5-minute song analysed whole; analysis worker "
            f"{bench.get('analysis_worker_rss_mb')} MB RSS; app plus one worker during an import "
            f"{bench.get('app_plus_worker_rss_mb')} MB (model `{bench.get('music_model_version')}`).\n"
        )
    parity = _load("dsp_parity.json")
    if parity:
        speed += (
            f"\n**Features without librosa**: the analysis computes its features with numpy (`app/music/dsp.py`), so "
            f"the worker never loads librosa's numba JIT. `python -m app.music.parity` checks them against librosa "
            f"on {parity['clips']} training clips ({parity['segments']} segments): tolerance {parity['tolerance']}; "
            f"features outside it: {len(parity['features_outside_tolerance'])}; largest difference "
            f"{parity['max_rel_continuous']:.4f} of a feature's spread (`models/dsp_parity.json`).\n"
        )
    nets = m.get("nets", ["MSD_musicnn"])
    pooling = (
        "an attention over segments (softmax of how sure the classifier is of each segment)"
        if m["selected"].endswith("+attention")
        else "a 10 %-trimmed mean over its segments"
    )
    data_mf = (
        f"; MUSIFEAST-17 (van der Walle et al. 2025), {m['n_musifeast17']} clips of 30 s in 17 genres"
        if "n_musifeast17" in m
        else ""
    )
    gate = ""
    if "export_ok" in m:
        gate = f"- **Against the served model**: {m['export_reason']}.\n"
    cache = f"- **Feature cache**: {m['feature_cache']}.\n" if "feature_cache" in m else ""
    return f"""## Music mood model — `{MUSIC_MODEL_FILE}` (version `{m["version"]}`)

- **Task**: for a whole track, its Russell quadrant (Q1 happy/energetic, Q2 tense/angry, Q3 sad,
  Q4 calm/tender) with probabilities, a valence and an arousal in [-1, 1], a confidence, and a
  mood timeline (valence/arousal per ~{m["segment_s"]:.0f} s segment).
- **How**: the track is cut into consecutive ~{m["segment_s"]:.0f} s segments covering all of it; each segment's row
  ({m["n_features"]} dims from the nets {", ".join(nets)}: {m["features"]}) goes into two scikit-learn
  pipelines (standardisation, then a multinomial logistic-regression quadrant classifier / a ridge
  valence/arousal regressor), served as plain numpy weights. The track's tag is {pooling}. The quadrant is
  the classifier's; valence and arousal are regressed, not derived from the quadrant, so they may
  disagree: then the confidence (the classifier's probability for its quadrant) is halved, and tags
  under {REVIEW_BELOW} are listed as "needs review" on Curate. Tracks shorter than {FRAGMENT_BELOW_S:.0f} s
  (stingers, jingles) get a confidence of at most {FRAGMENT_CONFIDENCE}: always listed for review, and
  not offered to listeners until a curator sets their mood.
- **The file describes itself**: format, version, nets and their files, patches per segment, the input
  feature names and the DSP settings; the tagger refuses a file whose description differs from what
  this code computes, and says so.
- **Data**: 4Q (Panda et al. 2018) development split, {m["n_4q"]} clips of 30 s; Emotify (Aljanaki et
  al. 2016), {m["n_emotify"]} one-minute clips{data_mf}. Targets: {m["targets"]}. 4Q clips have on average
  {m.get("lexicon_words_per_clip_mean", float("nan")):.1f} mood words covered by the Warriner norms.
- **Validation**: {m["cv"]}. Artist aliases merged: {merged.get("artists")} credits → {merged.get("groups")}
  groups ({aliases or "none"}).
- **Selected**: `{m["selected"]}` ({m["objective"]}).
{gate}{cache}
**Cross-validated figures** (out-of-fold tags, tagged as the app tags):

{header}{sets}{genres}{_spread_line(best)}
"Quadrant agreement" is the tag's quadrant against the label (4Q) or the listeners' GEMS profile
(Emotify); "point's quadrant" is the quadrant holding the regressed valence/arousal point.
Spearman correlations are with the continuous targets (4Q: mood-word norms; Emotify: GEMS;
MUSIFEAST-17: listener ratings, which have no quadrant).

4Q recall per quadrant:

| quadrant | recall |
|---|---|
{rec}
{_confusion_table(list(QUADRANTS), best["4q"]["confusion"])}
All candidates (same splits{", means" if best.get("spread") else ""}; valence and arousal ρ for
4Q / Emotify / MUSIFEAST-17):

| candidate | 4Q macro-F1 | Emotify agreement | valence ρ | arousal ρ | demo tracks Q1 / Q2 / Q3 / Q4 | 5-min song (s) |
|---|---|---|---|---|---|---|
{table}
"Demo tracks" is how the candidate, fitted on everything, tags the 32 synthetic demo tracks (8 made
for each quadrant). Since the demo is the catalog the app starts with, a candidate is not selected
if it leaves a quadrant empty, or if the mean valence/arousal of the tracks made for a quadrant lies
in another one (a listener asking for calm music would get the calm tracks read as sad). The last
column is the seconds it takes to tag a 5-minute song whole on one core, timed by the training run:
one over {TAG_BUDGET_S:g} s is not selected either.
{speed}
**Known weaknesses**: valence is harder than arousal (the audio carries energy more plainly than
pleasantness); Emotify's labels are induced emotions with modest listener agreement; 4Q and Emotify
are excerpts of mostly Western popular and classical music, so genres far from them are less
reliable: orchestral game and film scores are the known failure — epic battle pieces read as calm
or sad, and slow "sad" themes as pleasant — see the per-genre rows (MUSIFEAST-17's Film and Video
game), the confidence and the "needs review" list. Short stingers are tagged from a single segment
and are not trusted (see above). Curators can override any tag.
"""


def _train_command(member: dict) -> str:
    """The command that trained a from-scratch member, rebuilt from the options its run recorded."""
    flags = " ".join(
        f"--{key.replace('_', '-')} {value}"
        for key, value in (member.get("options") or {}).items()
        if value is not None
    )
    return f"{TRAIN_FACE} --workdir .cache/{member['workdir']} \\\n    {flags}\n"


def _served_run(runs: dict) -> str:
    """The recorded run the served nets came from (face_metrics.json's `finetune` options), else the first."""
    served = ((_load("face_metrics.json") or {}).get("finetune") or {}).get("options")
    return next((name for name, run in runs.items() if run["options"] == served), next(iter(runs)))


def _finetune_recipe(runs: dict | None) -> str:
    """The fine-tune commands, rebuilt from the options each recorded run stored."""
    if not runs:
        return ""
    steps = ""
    for name, run in runs.items():
        flags = " ".join(
            f"--{key.replace('_', '-')} {value}"
            for key, value in run["options"].items()
            if key not in ("extra", "threads", "save_every") and value not in (None, {})
        )
        command = f"python -m app.vision.train --out .cache/{name}"
        init = f"--init {run['init']} " if run.get("init") else ""
        steps += f"{command} \\\n    {init}{flags}\n{command} --record\n"
    return (
        "\n## How to fine-tune\n\nFrom the committed checkpoints (`models/checkpoints/`, the served nets; "
        "`python -m app.vision.served_nets` reads them back out of the tflite). Each run resumes where it "
        "stopped when the same command is run again; `--export` serves its best epoch only if it beats the "
        "served model on FER+ plurality without losing more than a point on FER2013 labels, and makes its nets "
        "the committed checkpoints. The runs recorded in `models/face_finetune_runs.json`:\n\n"
        f"```\n{steps}python -m app.vision.train --out .cache/{_served_run(runs)} --export\n"
        "python -m app bench --only vision --merge models/bench.json\npython -m app.tools.model_card\n```\n"
    )


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
        _finetune_recipe(_load("face_finetune_runs.json"))
        + "\n## How to retrain\n\nEvery stage is resumable (rerun the same command); each stage's options are in "
        "its workdir's `state.json` and, for the served nets, in `face_metrics.json` (`members`: `warm_start`, "
        "`options`). A net trained in a chain of warm restarts is given below as a three-stage recipe; the served "
        "one took the longer chain listed above.\n\n"
        f"```\n{steps}{export} --export\n"
        "python -m app.music.convert_musicnn --wheel musicnn-0.1.0-py3-none-any.whl   # the four nets, if missing\n"
        "python -m app.music.train --extract 4q emotify musifeast17 --every-patch MSD_vgg MTT_vgg  # feature cache\n"
        "python -m app.music.train   # CV, writes .cache/music_train/out\n"
        "python -m app.music.train --export .cache/music_train/out   # only if it beat the served model\n"
        "mkdir -p .cache/music_finetune/run1 && cp models/checkpoints/music_finetune/* .cache/music_finetune/run1/"
        "  # the served tuned block: resumed, not retrained\n"
        "python -m app.music.finetune --wheel musicnn-0.1.0-py3-none-any.whl --out .cache/music_finetune/run1\n"
        "cp .cache/music_finetune/run1/finetune_metrics.json models/music_finetune_metrics.json  # measured\n"
        "python -m app.music.train --export .cache/music_finetune/run1   # the hybrid, if it beat it\n"
        "python -m app bench --json > models/bench.json\npython -m app.tools.model_card\n```\n"
    )


def main() -> None:
    bench = _load("bench.json")
    music = _load("music_metrics.json")
    text = (
        "# Model card — Moodtune\n\nBoth models are trained here from the code in `app/`; "
        "the figures below are written by\n"
        "`python -m app.tools.model_card` from the metrics files the training scripts produce.\n\n"
        + face_section(_load("face_metrics.json"), bench)
        + "\n"
        + detector_section(_load("detector_metrics.json"), bench)
        + "\n"
        + music_section(music, bench)
        + music_finetune_section(_load("music_finetune_metrics.json"), (music or {}).get("selected"))
        + "\n## musicnn embeddings — `musicnn_*.tflite`\n\n"
        "The four pre-trained nets of the `musicnn` 0.1.0 wheel (Pons & Serra 2019, ISC licence, see "
        "`MUSICNN_LICENSE.txt`): MSD and MTT (MagnaTagATune) × musicnn and vgg, converted to TFLite by "
        "`python -m app.music.convert_musicnn --wheel musicnn-0.1.0-py3-none-any.whl` (from `pip download "
        "musicnn==0.1.0 --no-deps`), which checks each against the original TF1 graph before writing it. The "
        "music mood model reads the nets its file names.\n" + _retrain(_load("face_metrics.json"))
    )
    (MODELS_DIR / "MODEL_CARD.md").write_text(text)
    print(f"wrote {MODELS_DIR / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
