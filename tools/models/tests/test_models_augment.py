"""The training augmentation (augment.py) on tiny arrays against hand-computed results, and its
determinism; the phase syntax that switches it on (train_resnet.py)."""

import argparse

import numpy as np
import pytest
import tensorflow as tf

import augment
import train_resnet

GRID = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)  # row y, column x holds 4 * y + x


def shifted(dy: int, dx: int, mode: str) -> np.ndarray:
    return augment.translate(tf.constant(GRID), tf.constant([dy]), tf.constant([dx]), mode).numpy()[0, :, :, 0]


def test_translate_zero_padding_by_hand() -> None:
    assert shifted(1, -1, "zero").tolist() == [[0, 0, 0, 0], [1, 2, 3, 0], [5, 6, 7, 0], [9, 10, 11, 0]]
    assert shifted(-2, 2, "zero").tolist() == [[0, 0, 8, 9], [0, 0, 12, 13], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert shifted(0, 0, "zero").tolist() == GRID[0, :, :, 0].tolist()


def test_translate_edge_padding_by_hand() -> None:
    assert shifted(1, -1, "edge").tolist() == [[1, 2, 3, 3], [1, 2, 3, 3], [5, 6, 7, 7], [9, 10, 11, 11]]
    assert shifted(-2, 2, "edge").tolist() == [[8, 8, 8, 9], [12, 12, 12, 13], [12, 12, 12, 13], [12, 12, 12, 13]]


def test_translate_shifts_each_image_by_its_own_amount_on_every_channel() -> None:
    rgb = np.concatenate([GRID[0], GRID[0] + 100, GRID[0] + 200], axis=-1)  # [4, 4, 3]
    batch = np.stack([rgb, rgb])
    got = augment.translate(tf.constant(batch), tf.constant([0, 1]), tf.constant([1, 0])).numpy()
    want = np.zeros_like(batch)
    want[0, :, 1:] = batch[0, :, :-1]
    want[1, 1:, :] = batch[1, :-1, :]
    np.testing.assert_array_equal(got, want)


def test_translate_refuses_an_unknown_padding() -> None:
    with pytest.raises(ValueError, match="pad mode"):
        augment.translate(tf.constant(GRID), tf.constant([0]), tf.constant([0]), "reflect")


def test_flip_mirrors_only_the_marked_images() -> None:
    batch = np.concatenate([GRID, GRID])
    got = augment.flip(tf.constant(batch), tf.constant([True, False])).numpy()
    assert got[0, :, :, 0].tolist() == [[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8], [15, 14, 13, 12]]
    np.testing.assert_array_equal(got[1], GRID[0])


def candidates(image: np.ndarray) -> list[np.ndarray]:
    """Every image augment_batch may make of one image: 2 flips x 5 x 5 shifts (zero padding)."""
    out = []
    for mirrored in (False, True):
        source = image[:, ::-1] if mirrored else image
        for dy in range(-augment.MAX_SHIFT, augment.MAX_SHIFT + 1):
            for dx in range(-augment.MAX_SHIFT, augment.MAX_SHIFT + 1):
                moved = np.zeros_like(source)
                h, w = source.shape[:2]
                moved[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = source[
                    max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
                ]
                out.append(moved)
    return out


def test_augment_batch_is_deterministic_and_draws_flips_and_shifts() -> None:
    image = np.random.default_rng(3).integers(1, 256, size=(8, 8, 1), dtype=np.uint8)  # no zeros: shifts are visible
    batch = tf.constant(np.repeat(image[None], 64, axis=0))
    first = augment.augment_batch(batch, 5, tf.constant(0, tf.int64)).numpy()
    np.testing.assert_array_equal(first, augment.augment_batch(batch, 5, tf.constant(0, tf.int64)).numpy())
    assert not np.array_equal(first, augment.augment_batch(batch, 5, tf.constant(1, tf.int64)).numpy())
    assert not np.array_equal(first, augment.augment_batch(batch, 6, tf.constant(0, tf.int64)).numpy())
    options = candidates(image)
    which = [next(k for k, c in enumerate(options) if np.array_equal(c, got)) for got in first]  # each is a candidate
    mirrored = sum(k >= 25 for k in which)
    assert 16 <= mirrored <= 48  # p = 1/2 over 64 images (the bound fails with probability < 1e-4)
    assert len(set(k % 25 for k in which)) >= 12  # the 25 shifts are drawn, not one


def test_phases_with_augmentation_parse() -> None:
    assert train_resnet.parse_phases("64000:3e-4,40000:1e-4:aug") == [
        train_resnet.Phase(64000, 3e-4, False),
        train_resnet.Phase(40000, 1e-4, True),
    ]
    for bad in ("40000:1e-4:flip", "40000:1e-4:aug:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            train_resnet.parse_phases(bad)


def test_augmented_phase_records_it_and_others_keep_their_settings() -> None:
    args = argparse.Namespace(size=32, batch=64, chunk_steps=100, seed=1, augment_pad="zero")
    plain = train_resnet.phase_settings(args, 64000, 3e-4, 50)
    assert "augment" not in plain  # as earlier releases recorded them: their caches continue
    augmented = train_resnet.phase_settings(args, 40000, 1e-4, 50, augmented=True)
    assert augmented["augment"] == "horizontal flip p=0.5, shift +-2 px per axis, zero padding"
    assert augmented["chunks"] == 7


def test_train_dataset_augments_only_when_asked() -> None:
    pixels = np.random.default_rng(4).integers(1, 256, size=(8, 6, 6, 3), dtype=np.uint8)
    labels = np.arange(8)
    plain_x, plain_y = next(iter(train_resnet.train_dataset(pixels, labels, 8, 1)))
    aug_x, aug_y = next(iter(train_resnet.train_dataset(pixels, labels, 8, 1, "zero")))
    np.testing.assert_array_equal(plain_y.numpy(), aug_y.numpy())  # the same shuffle
    order = plain_y.numpy()
    np.testing.assert_allclose(plain_x.numpy(), (pixels[order] / 255.0 - 0.286) / 0.353, rtol=1e-5, atol=1e-5)
    assert not np.allclose(plain_x.numpy(), aug_x.numpy())
