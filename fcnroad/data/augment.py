"""Training-time augmentation of (image, label) pairs, applied in the batch loader's threads.

Geometry (random scale then crop or pad, horizontal flip) moves image and label
together: the image bilinear, the label nearest-neighbour, padding labelled
IGNORE so it never counts in the loss.  Photometry (brightness, contrast,
saturation, gamma, a random shadow as many KITTI forks add) changes the image
only.  Every draw comes from the RandomState passed in, so a batch's seed fixes
its augmentation (a resumed run repeats it).
"""
import numpy as np
from PIL import Image

from fcnroad.data.datasets import IGNORE

# Each setting's default when augmentation is on; main.py has a flag for each.
DEFAULTS = {
    'flip': 0.5,              # probability of a horizontal flip
    'scale': (0.75, 1.5),     # zoom range; above 1 crops, below 1 pads with ignored pixels
    'brightness': 0.25,       # multiply by 1 +- this
    'contrast': 0.25,         # stretch around the mean by 1 +- this
    'saturation': 0.25,       # stretch away from grey by 1 +- this
    'gamma': 0.25,            # exponent exp(+- this)
    'shadow': 0.3,            # probability of a shadow over one side of a random line
}
SHADOW_DARKNESS = (0.45, 0.85)   # the shadowed side keeps this fraction of its light
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


class Augmentation:
    """Which augmentations run and how strongly (see DEFAULTS); 0 or (1, 1) turns one off."""

    def __init__(self, **settings):
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError('unknown augmentation setting(s): %s' % ', '.join(sorted(unknown)))
        values = dict(DEFAULTS, **settings)
        self.flip = float(values['flip'])
        self.scale = tuple(float(s) for s in values['scale'])
        self.brightness = float(values['brightness'])
        self.contrast = float(values['contrast'])
        self.saturation = float(values['saturation'])
        self.gamma = float(values['gamma'])
        self.shadow = float(values['shadow'])
        if not (0 <= self.flip <= 1 and 0 <= self.shadow <= 1):
            raise ValueError('flip and shadow are probabilities in [0, 1]')
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError('scale must be MIN MAX with 0 < MIN <= MAX, not %s' % (self.scale,))
        if min(self.brightness, self.contrast, self.saturation, self.gamma) < 0:
            raise ValueError('brightness, contrast, saturation and gamma ranges must be >= 0')

    def settings(self):
        return {k: getattr(self, k) for k in DEFAULTS}

    def __call__(self, image, label, rng):
        """Augmented copies of a uint8 (H, W, 3) image and its (H, W) label, at the same size."""
        image, label = self.geometry(image, label, rng)
        return self.photometry(image, rng), label

    def geometry(self, image, label, rng):
        h, w = label.shape
        if self.scale != (1.0, 1.0):
            s = rng.uniform(*self.scale)
            sh, sw = max(1, int(round(h * s))), max(1, int(round(w * s)))
            image = np.asarray(Image.fromarray(image).resize((sw, sh), Image.BILINEAR))
            label = np.asarray(Image.fromarray(label).resize((sw, sh), Image.NEAREST))
            image, label = _crop_or_pad(image, label, h, w, rng)
        if self.flip and rng.rand() < self.flip:
            image, label = image[:, ::-1], label[:, ::-1]
        return np.ascontiguousarray(image), np.ascontiguousarray(label)

    def photometry(self, image, rng):
        x = image.astype(np.float32)
        if self.brightness:
            x *= 1 + rng.uniform(-self.brightness, self.brightness)
        if self.contrast:
            mean = x.mean()
            x = mean + (x - mean) * (1 + rng.uniform(-self.contrast, self.contrast))
        if self.saturation:
            grey = (x @ LUMA)[..., None]
            x = grey + (x - grey) * (1 + rng.uniform(-self.saturation, self.saturation))
        if self.gamma:
            x = 255 * (np.clip(x, 0, 255) / 255) ** np.exp(rng.uniform(-self.gamma, self.gamma))
        if self.shadow and rng.rand() < self.shadow:
            x *= shadow_mask(x.shape[:2], rng)[..., None]
        return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _crop_or_pad(image, label, h, w, rng):
    """A random h x w window of a zoomed pair; where the zoom is smaller, ignored padding."""
    sh, sw = label.shape
    top, left = rng.randint(0, abs(sh - h) + 1), rng.randint(0, abs(sw - w) + 1)
    out_image = np.zeros((h, w, 3), np.uint8)
    out_label = np.full((h, w), IGNORE, np.uint8)
    # Rows: crop when the zoom is taller, else place it at an offset (and the same for columns).
    src_r = slice(top, top + h) if sh >= h else slice(0, sh)
    dst_r = slice(0, h) if sh >= h else slice(top, top + sh)
    src_c = slice(left, left + w) if sw >= w else slice(0, sw)
    dst_c = slice(0, w) if sw >= w else slice(left, left + sw)
    out_image[dst_r, dst_c] = image[src_r, src_c]
    out_label[dst_r, dst_c] = label[src_r, src_c]
    return out_image, out_label


def shadow_mask(shape, rng):
    """Per-pixel light factor: 1 on one side of a random top-to-bottom line, darker on the other."""
    h, w = shape
    top_x, bottom_x = rng.uniform(0, w, size=2)
    rows = np.arange(h, dtype=np.float32)[:, None] / max(h - 1, 1)
    boundary = top_x + (bottom_x - top_x) * rows
    shaded = np.arange(w, dtype=np.float32)[None, :] < boundary
    if rng.rand() < 0.5:
        shaded = ~shaded
    return np.where(shaded, rng.uniform(*SHADOW_DARKNESS), 1.0).astype(np.float32)
