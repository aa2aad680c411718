"""accuracy (numpy, hand-computed cases) and the command line's --quick settings."""

from __future__ import annotations

import numpy as np
import pytest

from bench_peers import accuracy, cli


def test_top1_against_labels() -> None:
    out = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy.top1(out, [1, 0, 0]) == pytest.approx(2 / 3)


def test_cosine_and_agreement() -> None:
    ref = np.array([[1.0, 0.0], [0.0, 2.0]])
    out = np.array([[1.0, 1.0], [0.0, 5.0]])
    # per sample: cos 45 degrees, then identical direction
    assert accuracy.cosine(out, ref) == pytest.approx((2**-0.5 + 1.0) / 2)
    assert accuracy.top1_agreement(out, ref) == 1.0  # argmax 0 (tie resolved to first) and 1
    assert accuracy.cosine(np.zeros((1, 3)), np.zeros((1, 3))) == 1.0  # both zero: the same


def test_quick_bounds_the_run() -> None:
    a = cli.parse(["--quick"])
    assert a.models == cli.QUICK_MODELS and a.repeats <= 5 and a.calib <= 8 and a.eval <= 16
    b = cli.parse(["--quick", "--models", "resnet50", "--repeats", "3"])
    assert b.models == "resnet50" and b.repeats == 3


def test_unknown_names_refused() -> None:
    with pytest.raises(SystemExit):
        cli.parse(["--models", "vgg"])
    with pytest.raises(SystemExit):
        cli.parse(["--engines", "tvm"])


def test_make_arg_round_trips_through_the_shell() -> None:
    import shlex

    for argv in (["--quick"], ["--banner", "smoke run (x), not a result"], ["--banner", 'say "$HOME"']):
        word = cli.make_arg(argv)
        assert shlex.split(shlex.split(word)[0]) == argv
