"""Real photographs for the real fixtures (tests/fixtures/real/<model>/images/).

Crops and resizes photographs that the PyPI wheel scikit-image==0.25.2 ships in skimage/data/
(astronaut.png, camera.png, chelsea.png, coffee.png and the face subset of lfw_subset.npy) into
each fixture's input size, and writes them as 8-bit PNGs in images/calib/ (calibration) and
images/eval/ (evaluation, disjoint crops), with images/preprocess.json giving the --mean/--std
that map the pixels to the range the model expects. The wheel is fetched with pip into a cache
directory (pip download, no install) unless --skimage-data names an unpacked skimage/data.

Usage: python tools/int8_compare/make_real_inputs.py [--skimage-data DIR] [--out tests/fixtures/real]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SKIMAGE_VERSION = "0.25.2"
CACHE = Path.home() / ".cache" / "grappo" / "skimage-data"
# ITU-R 601 luma, as the models' own pipeline turns RGB into gray
GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


@dataclass(frozen=True)
class Fixture:
    name: str
    size: int
    gray: bool
    mean: float
    std: float
    why: str


# The range each model expects (x = (p/255 - mean) / std):
FIXTURES = [
    Fixture(
        "emotion",
        64,
        True,
        0.5,
        0.5,
        "gray in [-1, 1] (face_classification's preprocessing)",
    ),
    Fixture(
        "gender",
        64,
        True,
        0.5,
        0.5,
        "gray in [-1, 1] (face_classification's preprocessing)",
    ),
    Fixture(
        "blazeface-front", 128, False, 0.5, 0.5, "RGB in [-1, 1] (MediaPipe BlazeFace)"
    ),
    Fixture(
        "selfie", 256, False, 0.0, 1.0, "RGB in [0, 1] (MediaPipe Selfie Segmentation)"
    ),
    Fixture(
        "handlandmark-lite", 224, False, 0.0, 1.0, "RGB in [0, 1] (MediaPipe Hands)"
    ),
]

# Boxes (x0, y0, side) in the 512x512 astronaut photograph: around the face (centre ~ (225,
# 105)) for face models, the upper body for segmentation, the gloved hand for hands.
FACE_BOXES_CALIB = [(120, 0, 220), (140, 20, 180), (95, 0, 260), (150, 30, 160)]
FACE_BOXES_EVAL = [(130, 10, 200), (110, 0, 240), (145, 25, 170), (100, 0, 280)]
BODY_BOXES_CALIB = [(0, 0, 512), (40, 0, 400), (80, 0, 320), (0, 60, 452)]
BODY_BOXES_EVAL = [(20, 0, 480), (60, 0, 360), (100, 10, 300), (30, 40, 440)]
HAND_BOXES_CALIB = [(100, 380, 132), (80, 340, 172), (200, 300, 212), (0, 256, 256)]
HAND_BOXES_EVAL = [(110, 400, 112), (60, 320, 192), (240, 280, 232), (256, 256, 256)]
LFW_FACES = 100  # lfw_subset.npy: the first 100 rows are faces, the rest are not
LFW_PER_SPLIT = 12


def fetch_skimage_data() -> Path:
    data = CACHE / SKIMAGE_VERSION / "skimage" / "data"
    if (data / "astronaut.png").exists():
        return data
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(wheels),
    ]
    subprocess.run([*cmd, f"scikit-image=={SKIMAGE_VERSION}"], check=True)
    wheel = next(wheels.glob(f"scikit_image-{SKIMAGE_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            if member.startswith("skimage/data/") and not member.endswith(".py"):
                z.extract(member, CACHE / SKIMAGE_VERSION)
    return data


def load_rgb(data: Path, name: str) -> Image.Image:
    return Image.open(data / name).convert("RGB")


def to_gray(img: Image.Image) -> Image.Image:
    rgb = np.asarray(img.convert("RGB"), dtype=np.float64)
    g = rgb @ np.asarray(GRAY_WEIGHTS)
    return Image.fromarray(np.clip(np.rint(g), 0, 255).astype(np.uint8), mode="L")


def crop(img: Image.Image, box: tuple[int, int, int], size: int) -> Image.Image:
    x0, y0, side = box
    return img.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR)


def lfw_faces(data: Path) -> list[Image.Image]:
    faces = np.load(data / "lfw_subset.npy")[:LFW_FACES]
    return [
        Image.fromarray(np.clip(np.rint(f * 255), 0, 255).astype(np.uint8), mode="L")
        for f in faces
    ]


def images_for(fx: Fixture, data: Path, split: str) -> list[tuple[str, Image.Image]]:
    astro = load_rgb(data, "astronaut.png")
    camera = load_rgb(data, "camera.png")
    calib = split == "calib"
    out: list[tuple[str, Image.Image]] = []
    if fx.name in ("emotion", "gender", "blazeface-front"):
        boxes = FACE_BOXES_CALIB if calib else FACE_BOXES_EVAL
        out += [(f"astronaut.png{b}", crop(astro, b, fx.size)) for b in boxes]
        faces = lfw_faces(data)
        chosen = (
            range(0, LFW_PER_SPLIT)
            if calib
            else range(LFW_PER_SPLIT, 2 * LFW_PER_SPLIT)
        )
        out += [
            (
                f"lfw_subset.npy[{i}]",
                faces[i].resize((fx.size, fx.size), Image.BILINEAR),
            )
            for i in chosen
        ]
    elif fx.name == "selfie":
        boxes = BODY_BOXES_CALIB if calib else BODY_BOXES_EVAL
        out += [(f"astronaut.png{b}", crop(astro, b, fx.size)) for b in boxes]
        cam = (0, 0, 512) if calib else (100, 0, 400)
        out.append((f"camera.png{cam}", crop(camera, cam, fx.size)))
    else:
        boxes = HAND_BOXES_CALIB if calib else HAND_BOXES_EVAL
        out += [(f"astronaut.png{b}", crop(astro, b, fx.size)) for b in boxes]
        other = "chelsea.png" if calib else "coffee.png"
        img = load_rgb(data, other)
        side = min(img.size)
        out.append((f"{other}(0, 0, {side})", crop(img, (0, 0, side), fx.size)))
    if fx.gray:
        out = [(n, to_gray(im)) for n, im in out]
    else:
        out = [(n, im.convert("RGB")) for n, im in out]
    return out


def write_fixture(fx: Fixture, data: Path, root: Path) -> None:
    base = root / fx.name / "images"
    sources: dict[str, list[str]] = {}
    for split in ("calib", "eval"):
        d = base / split
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.png"):
            old.unlink()
        names = []
        for k, (src, im) in enumerate(images_for(fx, data, split)):
            im.save(d / f"{k:02d}.png", optimize=True)
            names.append(f"{k:02d}.png: {src}")
        sources[split] = names
    pre = {
        "mean": fx.mean,
        "std": fx.std,
        "range": fx.why,
        "size": fx.size,
        "gray": fx.gray,
    }
    (base / "preprocess.json").write_text(json.dumps(pre, indent=2) + "\n")
    lines = [
        f"# Real inputs of {fx.name}",
        "",
        f"Photographs from the PyPI wheel `scikit-image=={SKIMAGE_VERSION}` (files in `skimage/data/`),",
        f"cropped (box x0, y0, side in the source's pixels) and resized bilinearly to {fx.size}x{fx.size}",
        "by `tools/int8_compare/make_real_inputs.py`"
        + (
            ", converted to gray with weights 0.2989, 0.5870, 0.1140."
            if fx.gray
            else "."
        ),
        f"Preprocessing for grappo: `--mean {fx.mean} --std {fx.std}` ({fx.why}).",
        "",
        "skimage/data/README.txt: astronaut.png (Eileen Collins, NASA, public domain), camera.png,",
        "chelsea.png, coffee.png (scikit-image's own, CC0/public domain); lfw_subset.npy: 25x25 faces",
        "of Labeled Faces in the Wild (the first 100 rows are faces).",
        "",
    ]
    for split in ("calib", "eval"):
        lines.append(f"## {split}/")
        lines += [f"- {s}" for s in sources[split]]
        lines.append("")
    (base / "README.md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skimage-data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/real"))
    args = ap.parse_args()
    data = args.skimage_data or fetch_skimage_data()
    digest = hashlib.sha256((data / "astronaut.png").read_bytes()).hexdigest()[:16]
    for fx in FIXTURES:
        write_fixture(fx, data, args.out)
    print(
        f"wrote {len(FIXTURES)} fixtures' images from {data} (astronaut.png sha256 {digest}...)"
    )


if __name__ == "__main__":
    main()
