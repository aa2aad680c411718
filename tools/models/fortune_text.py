"""Labelled sentences from Debian's `fortunes` package: each category file holds quotations
separated by lines of '%'; the category is the label."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEBIAN_DIR = Path("/usr/share/games/fortunes")
CATEGORIES = ("computers", "politics", "science", "law", "food", "education", "drugs", "startrek")
PER_CATEGORY = 190  # the smallest chosen category (food) holds 198 distinct quotations; capped so classes balance
TEST_PER_CATEGORY = 50


@dataclass(frozen=True)
class LabelledText:
    texts: list[str]
    labels: np.ndarray  # int64 index into CATEGORIES


def read_category(path: Path) -> list[str]:
    """Quotations of one file (separated by lines holding only '%'), whitespace collapsed, empty
    ones and duplicates dropped, in file order."""
    out: dict[str, None] = {}
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() + ["%"]:
        if line.strip() != "%":
            lines.append(line)
            continue
        text = " ".join(" ".join(lines).split())
        lines = []
        if text:
            out[text] = None
    return list(out)


def load_splits(root: Path = DEBIAN_DIR, seed: int = 1) -> tuple[LabelledText, LabelledText]:
    """(train, test): per category, PER_CATEGORY quotations drawn at random from those filed under
    that category alone, TEST_PER_CATEGORY of them
    held out for test. Both splits are shuffled (seeded)."""
    rng = np.random.default_rng(seed)
    by_category = {name: read_category(root / name) for name in CATEGORIES}
    seen: dict[str, int] = {}
    for texts in by_category.values():
        for text in texts:
            seen[text] = seen.get(text, 0) + 1
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for label, name in enumerate(CATEGORIES):
        texts = [t for t in by_category[name] if seen[t] == 1]  # a quotation filed under two categories has no one label
        if len(texts) < PER_CATEGORY:
            raise ValueError(f"{root / name}: {len(texts)} quotations, need {PER_CATEGORY}")
        pick = rng.permutation(len(texts))[:PER_CATEGORY]
        test += [(texts[i], label) for i in pick[:TEST_PER_CATEGORY]]
        train += [(texts[i], label) for i in pick[TEST_PER_CATEGORY:]]

    def shuffled(rows: list[tuple[str, int]]) -> LabelledText:
        order = rng.permutation(len(rows))
        return LabelledText([rows[i][0] for i in order], np.array([rows[i][1] for i in order], dtype=np.int64))

    return shuffled(train), shuffled(test)
