"""The one prepared GPU run of the face fine-tune: ≤ 10 minutes on a lent GPU machine, starting
from the committed checkpoints (or from the weights an earlier GPU run returned), returning new
member weights and their dev figures in `$OUT`.

The GPU machines have JAX and PyTorch but no TensorFlow and no package index, so this runs the
same nets (`served_nets.build_folded_member`, plain Keras 3) on the JAX backend, with Keras's
`fit`, backend-neutral augmentation layers and `BackupAndRestore`; the CPU fine-tune
(`app.vision.finetune`) stays the default and its extra webcam augmentations (side light, blur,
glasses, hand) stay CPU-only. Same targets (`finetune.training_set`), same selection (FER+
plurality on de-duplicated val).

Here, once (the data cannot travel as JPEG folders: the working tree may be 64 MiB):

    python -m app.vision.train --pack .cache/gpu/dev_pack.npz
    .venv/bin/pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --platform manylinux_2_17_x86_64 -d .cache/gpu/wheels keras==3.15.1 namex==0.1.0 optree==0.16.0

Device (`run`, carry [".cache/gpu"], timeout_s 600): `bash app/vision/gpu_finetune.sh` (installs
the carried wheels, runs this module on JAX for at most 8 minutes, writes to `$OUT`). The packed
faces are JPEG-re-encoded, so its val figures differ slightly from the CPU ones: measure the
returned weights here before exporting them.

Then here: copy `$OUT/face_member_*.weights.h5` into a folder and run
`python -m app.vision.train --init THAT_FOLDER` to go on on CPU, or measure and export as usual.
Tested on CPU with a tiny step count (`--steps-per-epoch 2 --epochs 1`, TensorFlow backend).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")


def main(argv: list[str] | None = None) -> None:
    import keras
    import numpy as np

    from app.vision.finetune import FinetuneOptions, ck_validation, evaluate_members, load_dev_data, training_set
    from app.vision.served_nets import CHECKPOINT_DIR, library_versions, load_members, save_members

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pack", required=True, help="python -m app.vision.train --pack FILE")
    p.add_argument("--init", default=str(CHECKPOINT_DIR))
    p.add_argument("--out", default=os.environ.get("OUT", ".cache/gpu_out"))
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--steps-per-epoch", type=int, default=0, help="0: one pass")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--minutes", type=float, default=8.0, help="stop after the epoch that passes this budget")
    p.add_argument("--seed", type=int, default=28)
    args = p.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    out = Path(args.out)
    opts = FinetuneOptions(batch=args.batch, lr=args.lr, seed=args.seed, epochs=args.epochs)
    fer_train, fer_val, ck = load_dev_data(Path(args.pack), None, out / "cache")
    train = training_set(fer_train, ck, opts)
    ck_val = ck_validation(ck, opts)
    members = load_members(Path(args.init), dropout=opts.dropout, spatial_dropout=opts.spatial_dropout)

    augment = keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomRotation(0.06, fill_mode="reflect"),
            keras.layers.RandomZoom(0.15, fill_mode="reflect"),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect"),
            keras.layers.RandomContrast(0.3),
            keras.layers.RandomBrightness(0.15, value_range=(0.0, 1.0)),
        ]
    )
    crop = keras.Input((48, 48, 1))
    seen = augment(crop)
    trainer = keras.Model(crop, [m(seen) for m in members])
    steps = args.steps_per_epoch or int(np.ceil(len(train.x) / args.batch))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps * args.epochs, alpha=0.05, warmup_target=args.lr, warmup_steps=min(200, steps)
    )
    trainer.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=opts.weight_decay),
        loss=[keras.losses.CategoricalCrossentropy(from_logits=True)] * len(members),
    )
    x = train.x[..., None].astype(np.float32) / 255.0
    y = train.soft.astype(np.float32)
    record: dict = {"options": vars(args), "libraries": library_versions(), "n_train": len(x), "history": []}
    record["start"] = evaluate_members(members, fer_val, ck_val)
    started = time.time()

    class DevFigures(keras.callbacks.Callback):
        """Every epoch: dev figures; the best by FER+ plurality saved to `$OUT`; stop on the budget."""

        def on_epoch_end(self, epoch, logs=None):
            scores = evaluate_members(members, fer_val, ck_val)
            record["history"].append({"epoch": epoch + 1, "loss": float((logs or {}).get("loss", 0)), **scores})
            acc = scores["ferplus_plurality"]["accuracy"]
            if acc > record.get("best_accuracy", record["start"]["ferplus_plurality"]["accuracy"]):
                record["best_accuracy"], record["best_epoch"] = acc, epoch + 1
                save_members(members, out, {"gpu_run": "gpu_run.json", "epoch": epoch + 1})
            (out / "gpu_run.json").write_text(json.dumps(record, indent=1))
            print(f"epoch {epoch + 1}: FER+ plurality {acc:.4f}, {time.time() - started:.0f}s", flush=True)
            if time.time() - started > args.minutes * 60:
                self.model.stop_training = True

    out.mkdir(parents=True, exist_ok=True)
    trainer.fit(
        x,
        [y] * len(members),
        batch_size=args.batch,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch or None,
        callbacks=[keras.callbacks.BackupAndRestore(str(out / "cache" / "backup")), DevFigures()],
        verbose=2,
    )
    (out / "gpu_run.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
