"""Images and label maps as arrays: read (errors name the file), written whole or not at all, resized,
one-hot, class frequencies.  Label maps hold class indices, IGNORE where a pixel is not evaluated."""
import os

import imageio.v2 as imageio
import numpy as np
from PIL import Image

from fcnroad.errors import DataError  # noqa: F401  (bad or missing input data; the message names the file)

IGNORE = 255
# The network's sides are multiples of this (five poolings of 2); network_shape() rounds to it.
NETWORK_MULTIPLE = 32


def network_shape(image_shape, trained_shape):
    """The (height, width) the network sees an image of image_shape at: the height it was trained at,
    the width that keeps the image's aspect ratio rounded (half up) to a multiple of NETWORK_MULTIPLE,
    at least one (never stretched).

    The one rule for every path that paints or scores, and for the training images before their crop;
    saved_model.network_shape_tensor is the same integer arithmetic in the graph (tested to agree).
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    trained_height, multiple = int(trained_shape[0]), NETWORK_MULTIPLE
    # round(width * trained_height / height / multiple), half up, in integers
    multiples = (2 * width * trained_height + height * multiple) // (2 * height * multiple)
    return trained_height, max(1, multiples) * multiple


def read_png(path, channels=3):
    """Read an image as uint8 with the given number of channels (None: as stored)."""
    try:
        image = imageio.imread(path)
    except Exception as e:  # imageio raises many types for a broken file, some over several lines
        first_line = (str(e).splitlines() or [type(e).__name__])[0]
        raise DataError('%s: cannot read image (%s)' % (path, first_line)) from None
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise DataError('%s: expected 8-bit pixels, got %s' % (path, image.dtype))
    if channels is None:
        return image
    if channels == 1:
        if image.ndim == 3:
            raise DataError('%s: expected a single-channel label image, got shape %s' % (path, image.shape))
        return image
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


def staging_name(path):
    """A staging name beside path that keeps its extension (writers pick the format from it)."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, '.%s.partial%s' % (stem, ext))


def write_image(path, image):
    """Write an image under a staging name, then rename: path is whole or absent."""
    staging = staging_name(path)
    try:
        imageio.imwrite(staging, image)
        os.replace(staging, path)
    except BaseException:
        if os.path.exists(staging):
            os.remove(staging)
        raise


def resize_image(image, shape):
    """Bilinear resize of an RGB uint8 image to shape (height, width)."""
    if image.shape[:2] == tuple(shape):
        return image
    return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.BILINEAR))


def resize_label(label, shape):
    """Nearest-neighbour resize: class indices are never interpolated."""
    if label.shape[:2] == tuple(shape):
        return label
    return np.asarray(Image.fromarray(label).resize((shape[1], shape[0]), Image.NEAREST))


def resize_probabilities(probs, shape):
    """Bilinear resize of an (H, W, C) probability map to shape, channel by channel."""
    if probs.shape[:2] == tuple(shape):
        return probs
    return np.stack([np.asarray(Image.fromarray(probs[..., c].astype(np.float32), 'F')
                                .resize((shape[1], shape[0]), Image.BILINEAR))
                     for c in range(probs.shape[-1])], axis=-1)


def median_frequency_weights(labels, num_classes):
    """SegNet's class balancing: weight_c = median(freq) / freq_c.

    freq_c is the pixels of class c over the pixels of the images where c
    appears (IGNORE left out); a class that never appears gets weight 0.
    """
    pixels = np.zeros(num_classes, np.float64)
    present_in = np.zeros(num_classes, np.float64)
    for label in labels:
        counts = np.bincount(label[label != IGNORE].ravel(), minlength=num_classes)[:num_classes]
        pixels += counts
        present_in += (counts > 0) * counts.sum()
    seen = pixels > 0
    freq = np.where(seen, pixels / np.maximum(present_in, 1), np.nan)
    return np.where(seen, np.nanmedian(freq) / np.where(seen, freq, 1), 0.0).astype(np.float32)


def one_hot(label, num_classes):
    """float32 one-hot of a label map; IGNORE (or any index >= num_classes) gives an all-zero row."""
    return (label[..., None] == np.arange(num_classes, dtype=label.dtype)).astype(np.float32)
