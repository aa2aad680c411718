"""Training-time augmentation of fashion-mnist batches (uint8 NHWC pixels, before normalisation):
a horizontal flip with probability 1/2 (fashion-mnist's classes keep their meaning mirrored) and a
translation by a whole number of pixels in [-MAX_SHIFT, MAX_SHIFT] on each axis, the uncovered
border filled with zeros (the images' background) or with the nearest edge pixel. Every draw comes
from stateless random ops keyed by (seed, batch index), so a run is reproducible from its seed."""

import tensorflow as tf

MAX_SHIFT = 2
PAD_MODES = ("zero", "edge")
DEFAULT_PAD_MODE = "zero"


def flip(pixels: tf.Tensor, mirrored: tf.Tensor) -> tf.Tensor:
    """Mirror left/right the images i of pixels [n, h, w, c] whose mirrored[i] (bool [n]) is set."""
    return tf.where(mirrored[:, None, None, None], tf.reverse(pixels, axis=[2]), pixels)


def translate(pixels: tf.Tensor, dy: tf.Tensor, dx: tf.Tensor, pad_mode: str = DEFAULT_PAD_MODE) -> tf.Tensor:
    """out[i, y, x] = pixels[i, y - dy[i], x - dx[i]] (int32 [n] shifts; positive moves down/right);
    outside the image: 0 ('zero') or the nearest pixel inside ('edge')."""
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad mode {pad_mode!r}: expected one of {PAD_MODES}")
    h, w = tf.shape(pixels)[1], tf.shape(pixels)[2]
    rows = tf.range(h)[None, :] - dy[:, None]  # [n, h]: the source row of each output row
    cols = tf.range(w)[None, :] - dx[:, None]  # [n, w]
    out = tf.gather(pixels, tf.clip_by_value(rows, 0, h - 1), axis=1, batch_dims=1)
    out = tf.gather(out, tf.clip_by_value(cols, 0, w - 1), axis=2, batch_dims=1)
    if pad_mode == "edge":
        return out
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # [n, h, w]
    return tf.where(inside[:, :, :, None], out, tf.zeros_like(out))


def augment_batch(pixels: tf.Tensor, seed: int, batch_index: tf.Tensor, pad_mode: str = DEFAULT_PAD_MODE) -> tf.Tensor:
    """A random flip and shift per image of the batch, drawn from (seed, batch_index)."""
    n = tf.shape(pixels)[0]
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(batch_index, tf.int64)])
    keys = tf.random.experimental.stateless_split(key, num=3)
    mirrored = tf.random.stateless_uniform([n], seed=keys[0]) < 0.5
    dy = tf.random.stateless_uniform([n], seed=keys[1], minval=-MAX_SHIFT, maxval=MAX_SHIFT + 1, dtype=tf.int32)
    dx = tf.random.stateless_uniform([n], seed=keys[2], minval=-MAX_SHIFT, maxval=MAX_SHIFT + 1, dtype=tf.int32)
    return translate(flip(pixels, mirrored), dy, dx, pad_mode)
