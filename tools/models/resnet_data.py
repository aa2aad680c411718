"""Fashion-MNIST as the ResNet-50 sees it: 28x28 gray up-sampled to SIZE x SIZE RGB uint8 pixels,
then x = (pixel / 255 - MEAN) / STD per channel (NHWC). The PNGs written for evaluation hold the
up-sampled uint8 pixels, so a reader applies only the normalisation."""

import numpy as np
import tensorflow as tf

DEFAULT_SIZE = 32  # the smallest input Keras's ResNet50 accepts; the training cost grows with its square
MEAN = 0.286  # fashion-mnist train split: mean and standard deviation of pixel / 255
STD = 0.353
LAYOUT = "nhwc"


def upsample(images: np.ndarray, size: int, batch: int = 4096) -> np.ndarray:
    """(n, 28, 28) uint8 gray -> (n, size, size, 3) uint8 RGB, bilinear, rounded like a PNG stores it."""
    out = np.empty((images.shape[0], size, size, 3), dtype=np.uint8)
    for start in range(0, images.shape[0], batch):
        chunk = tf.convert_to_tensor(images[start : start + batch, :, :, None], dtype=tf.float32)
        resized = tf.image.resize(chunk, (size, size), method="bilinear")
        rgb = tf.repeat(tf.clip_by_value(tf.round(resized), 0.0, 255.0), 3, axis=-1)
        out[start : start + batch] = tf.cast(rgb, tf.uint8).numpy()
    return out


def normalize(pixels: tf.Tensor) -> tf.Tensor:
    """uint8 (or float) pixels -> the model's float32 input."""
    return (tf.cast(pixels, tf.float32) / 255.0 - MEAN) / STD


def preprocessing_info(size: int) -> dict[str, object]:
    """The preprocessing as info.json states it."""
    return {
        "pixels": f"fashion-mnist 28x28 gray, bilinear up-sampled to {size}x{size}, rounded to uint8, copied to R,G,B",
        "formula": "x = (pixel / 255 - mean) / std",
        "mean": [MEAN] * 3,
        "std": [STD] * 3,
        "layout": LAYOUT,
    }
