"""Train Keras's exact ResNet50 (weights=None, 10 classes) on fashion-mnist, resumably.

Training runs in chunks of --chunk-steps steps; after each chunk the whole Keras state (weights and
optimizer, including its step counter and so the learning-rate schedule) goes to
DIR/train/state.keras and the progress to DIR/train/progress.json, so a rerun continues where the
last one stopped. --time-budget stops after the chunk that crosses it (a rerun then continues).
When all chunks are done, DIR/train/done is written.

Further phases (--continue-phases) then continue from that state, each a warm restart (a fresh
Adam, a short warm-up to its peak learning rate, cosine decay to 0 over its images) in
DIR/train/phaseK/ with the same chunked, resumable bookkeeping; the last phase's done file ends
the training and later runs do nothing. The first phase's settings are those of the first
release of this script, so a cache trained by it is continued, not retrained. A phase written
IMAGES:PEAK_LR:aug trains on augmented batches (augment.py: random flips and +-2 px shifts).
"""

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tensorflow as tf

import augment
import cache
import fmnist
import resnet_data

NUM_CLASSES = len(fmnist.CLASS_NAMES)


DEFAULT_CONTINUE_PHASES = "64000:3e-4,64000:2e-4"
AUGMENT_FLAG = "aug"


class Phase(NamedTuple):
    images: int
    peak_lr: float
    augment: bool = False


def parse_phases(text: str) -> list[Phase]:
    """'64000:3e-4,40000:1e-4:aug' -> [Phase(64000, 3e-4), Phase(40000, 1e-4, augment=True)]."""
    phases = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        fields = item.split(":")
        if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] != AUGMENT_FLAG):
            raise argparse.ArgumentTypeError(f"phase {item!r}: expected IMAGES:PEAK_LR or IMAGES:PEAK_LR:{AUGMENT_FLAG}")
        try:
            phases.append(Phase(int(fields[0]), float(fields[1]), len(fields) == 3))
        except ValueError:
            raise argparse.ArgumentTypeError(f"phase {item!r}: expected IMAGES:PEAK_LR") from None
    return phases


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=cache.models_root() / cache.RESNET_DIR_NAME)
    p.add_argument("--size", type=int, default=resnet_data.DEFAULT_SIZE)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--train-images", type=int, default=51200, help="images seen in total (60,000 = one epoch)")
    p.add_argument("--chunk-steps", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--peak-lr", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--time-budget", type=float, default=0.0, help="seconds; stop after the chunk that crosses it (0: none)")
    p.add_argument(
        "--continue-phases",
        type=parse_phases,
        default=parse_phases(DEFAULT_CONTINUE_PHASES),
        help=f"the phases after the first, IMAGES:PEAK_LR[:{AUGMENT_FLAG}],... (default {DEFAULT_CONTINUE_PHASES}; '' for none)",
    )
    p.add_argument("--augment-pad", choices=augment.PAD_MODES, default=augment.DEFAULT_PAD_MODE, help="border of shifted images")
    p.add_argument("--continue-warmup-steps", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


def build_model(size: int) -> tf.keras.Model:
    return tf.keras.applications.ResNet50(weights=None, input_shape=(size, size, 3), classes=NUM_CLASSES)


def compile_model(model: tf.keras.Model, total_steps: int, peak_lr: float, warmup_steps: int) -> None:
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=peak_lr,
        warmup_steps=warmup_steps,
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def train_dataset(pixels: np.ndarray, labels: np.ndarray, batch: int, seed: int, pad_mode: str | None = None) -> tf.data.Dataset:
    """Shuffled batches, normalised; augmented (augment.augment_batch, keyed by seed) unless pad_mode is None."""
    ds = tf.data.Dataset.from_tensor_slices((pixels, labels))
    ds = ds.shuffle(pixels.shape[0], seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch, drop_remainder=True)
    if pad_mode is not None:
        ds = ds.enumerate().map(lambda i, xy: (augment.augment_batch(xy[0], seed, i, pad_mode), xy[1]))
    return ds.map(lambda x, y: (resnet_data.normalize(x), y)).prefetch(2)


class Progress:
    """DIR/train/progress.json: chunks done, training seconds so far, the run's settings."""

    def __init__(self, path: Path, settings: dict[str, object]) -> None:
        self.path = path
        self.chunks_done = 0
        self.train_seconds = 0.0
        self.history: list[dict[str, float]] = []
        if path.exists():
            saved = json.loads(path.read_text())
            if saved["settings"] != settings:
                raise SystemExit(f"{path}: saved with other settings {saved['settings']}; remove {path.parent} to restart")
            self.chunks_done = int(saved["chunks_done"])
            self.train_seconds = float(saved["train_seconds"])
            self.history = list(saved["history"])
        self.settings = settings

    def save(self) -> None:
        record = {
            "settings": self.settings,
            "chunks_done": self.chunks_done,
            "train_seconds": self.train_seconds,
            "history": self.history,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(self.path)


class ChunkCheckpoint(tf.keras.callbacks.Callback):
    """After each chunk (a Keras 'epoch'): save the state, then the progress; stop on the time budget."""

    def __init__(self, state_path: Path, progress: Progress, images_per_chunk: int, budget: float) -> None:
        super().__init__()
        self.state_path = state_path
        self.progress = progress
        self.images_per_chunk = images_per_chunk
        self.budget = budget
        self.run_start = time.monotonic()
        self.chunk_start = self.run_start

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.chunk_start = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        seconds = time.monotonic() - self.chunk_start
        tmp = self.state_path.with_name("state.tmp.keras")
        self.model.save(tmp)
        tmp.replace(self.state_path)
        self.progress.chunks_done = epoch + 1
        self.progress.train_seconds += seconds
        logs = logs or {}
        self.progress.history.append(
            {
                "chunk": epoch + 1,
                "loss": float(logs.get("loss", math.nan)),
                "accuracy": float(logs.get("accuracy", math.nan)),
                "seconds": seconds,
                "images_per_second": self.images_per_chunk / seconds,
            }
        )
        self.progress.save()
        print(
            f"chunk {epoch + 1}: loss {logs.get('loss', math.nan):.4f} acc {logs.get('accuracy', math.nan):.4f} "
            f"{self.images_per_chunk / seconds:.1f} img/s, {self.progress.train_seconds / 60:.1f} min so far",
            flush=True,
        )
        if self.budget > 0 and time.monotonic() - self.run_start >= self.budget:
            print(f"time budget of {self.budget:.0f} s reached; rerun to continue", flush=True)
            self.model.stop_training = True


def phase_settings(
    args: argparse.Namespace, images: int, peak_lr: float, warmup_steps: int, augmented: bool = False
) -> dict[str, object]:
    """What a phase's progress.json records (and a resume must match); 'augment' only when it is on,
    so the settings of the phases without augmentation stay those of earlier releases."""
    settings: dict[str, object] = {
        "size": args.size,
        "batch": args.batch,
        "chunk_steps": args.chunk_steps,
        "chunks": math.ceil(images / (args.chunk_steps * args.batch)),
        "peak_lr": peak_lr,
        "warmup_steps": warmup_steps,
        "seed": args.seed,
    }
    if augmented:
        settings["augment"] = augment_description(args.augment_pad)
    return settings


def augment_description(pad_mode: str) -> str:
    return f"horizontal flip p=0.5, shift +-{augment.MAX_SHIFT} px per axis, {pad_mode} padding"


def run_phase(
    phase_dir: Path,
    settings: dict[str, object],
    start_model: Callable[[], tf.keras.Model],
    data: tuple[np.ndarray, np.ndarray],
    args: argparse.Namespace,
    shuffle_seed: int,
) -> bool:
    """Train one phase in phase_dir (resuming when it was interrupted); True when it is done."""
    phase_dir.mkdir(parents=True, exist_ok=True)
    if (phase_dir / "done").exists():
        return True
    chunks = int(settings["chunks"])
    progress = Progress(phase_dir / "progress.json", settings)
    state_path = phase_dir / "state.keras"
    if progress.chunks_done > 0 and state_path.exists():
        model = tf.keras.models.load_model(state_path)
        print(f"{phase_dir.name}: resuming after chunk {progress.chunks_done} of {chunks}", flush=True)
    else:
        progress.chunks_done = 0
        tf.keras.utils.set_random_seed(args.seed)
        model = start_model()
        compile_model(model, chunks * args.chunk_steps, float(settings["peak_lr"]), int(settings["warmup_steps"]))
    images_per_chunk = args.chunk_steps * args.batch
    pad_mode = args.augment_pad if "augment" in settings else None
    ds = train_dataset(data[0], data[1], args.batch, shuffle_seed + progress.chunks_done, pad_mode)
    callback = ChunkCheckpoint(state_path, progress, images_per_chunk, args.time_budget)
    model.fit(
        ds, epochs=chunks, initial_epoch=progress.chunks_done, steps_per_epoch=args.chunk_steps, callbacks=[callback], verbose=2
    )
    if progress.chunks_done < chunks:
        return False
    (phase_dir / "done").write_text(f"{progress.train_seconds:.0f} s\n")
    print(f"{phase_dir.name}: done, {progress.train_seconds / 60:.1f} min", flush=True)
    return True


def phase_dirs(train_dir: Path, continued: int) -> list[Path]:
    """The phases' directories in training order: the first phase lives in train_dir itself,
    phase k (k >= 2) in train_dir/phaseK."""
    return [train_dir] + [train_dir / f"phase{k}" for k in range(2, continued + 2)]


def final_state(train_dir: Path) -> tuple[Path, bool]:
    """The newest checkpoint of the training (its state.keras) and whether its phase is done."""
    dirs = [d for d in phase_dirs(train_dir, MAX_PHASES) if (d / "state.keras").exists()]
    last = dirs[-1]
    return last / "state.keras", (last / "done").exists()


MAX_PHASES = 9


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    train_dir = args.out / "train"
    dirs = phase_dirs(train_dir, len(args.continue_phases))
    if (dirs[-1] / "done").exists():
        print(f"{train_dir}: training already done")
        return 0
    train = fmnist.load_split("train")
    data = (resnet_data.upsample(train.images, args.size), train.labels)
    first = phase_settings(args, args.train_images, args.peak_lr, args.warmup_steps)
    if not run_phase(dirs[0], first, lambda: build_model(args.size), data, args, args.seed):
        return 0
    for k, (images, peak_lr, augmented) in enumerate(args.continue_phases, start=1):
        settings = phase_settings(args, images, peak_lr, args.continue_warmup_steps, augmented)
        settings["from"] = f"phase {k} ({dirs[k - 1].relative_to(args.out)}/state.keras), fresh Adam"
        previous = dirs[k - 1] / "state.keras"

        def start(previous: Path = previous) -> tf.keras.Model:
            return tf.keras.models.load_model(previous, compile=False)

        if not run_phase(dirs[k], settings, start, data, args, args.seed + 1000 * k):
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
