"""Training-time augmentation of (image, label) pairs, applied in the batch loader's threads.

Geometry (random scale and aspect ratio, then a crop or pad to the training size at a
random place, which also moves the horizon up and down; a horizontal flip) moves image and
label together: the image bilinear, the label nearest-neighbour, padding labelled IGNORE so
it never counts in the loss.  Photometry changes the image only: brightness, contrast,
saturation, gamma, a colour cast, a random shadow as many KITTI forks add, low light with
sensor noise, a lower resolution, blur and JPEG compression, the ways another camera's
frames differ from the training camera's.  Every draw comes from the RandomState passed in,
so a batch's seed fixes its augmentation (a resumed run repeats it).
"""
import io

import numpy as np
from PIL import Image, ImageFilter

from fcnroad.data.arrays import IGNORE

# Each setting's default when augmentation is on; main.py has a flag for each.  Ranges are +-D;
# probabilities say how often an effect is drawn.  The colour cast and low light carry a KITTI-trained road
# model to CamVid's dusk streets (road IoU 0.545 to 0.673, mean of two seeds, spread under 0.09), the other
# effects screened did not carry it (BENCHMARKS.md, Other cameras), so they stay off.
DEFAULTS = {
    'flip': 0.5,              # probability of a horizontal flip
    'scale': (0.75, 1.5),     # zoom range; above 1 crops, below 1 pads with ignored pixels
    'aspect': 0.0,            # the width stretched by exp(+- this) against the height: other lenses and sensors
    'horizon': 0.0,           # the crop moved up or down by up to this fraction of its height: another mounting
    'brightness': 0.25,       # multiply by 1 +- this
    'contrast': 0.25,         # stretch around the mean by 1 +- this
    'saturation': 0.25,       # stretch away from grey by 1 +- this
    'gamma': 0.25,            # exponent exp(+- this)
    'colour': 0.15,           # each channel multiplied by exp(+- this): white balance
    'shadow': 0.3,            # probability of a shadow over one side of a random line
    'low_light': 0.25,        # probability of a dim frame (LOW_LIGHT of the light) with sensor noise
    'low_res': 0.0,           # probability of a frame taken at LOW_RES of the resolution and scaled back up
    'blur': 0.0,              # probability of a Gaussian blur (BLUR_SIGMA pixels)
    'jpeg': 0.0,              # probability of JPEG compression at JPEG_QUALITY
}
OFF = {name: (1.0, 1.0) if name == 'scale' else 0.0 for name in DEFAULTS}     # every effect off
PROBABILITIES = ('flip', 'shadow', 'low_light', 'low_res', 'blur', 'jpeg')
SHADOW_DARKNESS = (0.45, 0.85)   # the shadowed side keeps this fraction of its light
LOW_LIGHT = (0.15, 0.5)          # a dim frame keeps this fraction of its light ...
LOW_LIGHT_NOISE = (2.0, 8.0)     # ... and gains Gaussian noise of this many grey levels
LOW_RES = (0.25, 0.6)            # a low-resolution frame's sides, as a fraction of the training size
BLUR_SIGMA = (0.5, 1.5)
JPEG_QUALITY = (15, 60)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


class Augmentation:
    """Which augmentations run and how strongly (see DEFAULTS); 0 or (1, 1) turns one off."""

    def __init__(self, **settings):
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError('unknown augmentation setting(s): %s' % ', '.join(sorted(unknown)))
        values = dict(DEFAULTS, **settings)
        for name in DEFAULTS:
            setattr(self, name, tuple(float(s) for s in values[name]) if name == 'scale' else float(values[name]))
        if not all(0 <= getattr(self, name) <= 1 for name in PROBABILITIES):
            raise ValueError('%s are probabilities in [0, 1]' % ', '.join(PROBABILITIES))
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError('scale must be MIN MAX with 0 < MIN <= MAX, not %s' % (self.scale,))
        ranges = ('aspect', 'horizon', 'brightness', 'contrast', 'saturation', 'gamma', 'colour')
        if min(getattr(self, name) for name in ranges) < 0:
            raise ValueError('%s ranges must be >= 0' % ', '.join(ranges))
        if self.horizon >= 1:
            raise ValueError('horizon is a fraction of the height, below 1')

    def settings(self):
        return {k: getattr(self, k) for k in DEFAULTS}

    def __call__(self, image, label, rng, shape=None):
        """Augmented copies of a uint8 (H, W, 3) image and its (H, W) label, at shape (default: their own)."""
        image, label = self.geometry(image, label, rng, shape)
        return self.photometry(image, rng), label

    def geometry(self, image, label, rng, shape=None):
        h, w = shape or label.shape
        sh, sw = label.shape
        if self.scale != (1.0, 1.0) or self.aspect:
            s = rng.uniform(*self.scale)
            stretch = np.exp(rng.uniform(-self.aspect, self.aspect)) if self.aspect else 1.0
            sh, sw = max(1, int(round(sh * s))), max(1, int(round(sw * s * stretch)))
            image = np.asarray(Image.fromarray(image).resize((sw, sh), Image.BILINEAR))
            label = np.asarray(Image.fromarray(label).resize((sw, sh), Image.NEAREST))
        shift = int(round(rng.uniform(-self.horizon, self.horizon) * h)) if self.horizon else 0
        image, label = crop_or_pad(image, label, h, w, rng.randint(0, abs(sh - h) + 1) + shift,
                                   rng.randint(0, abs(sw - w) + 1))
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
        if self.colour:
            x *= np.exp(rng.uniform(-self.colour, self.colour, size=3)).astype(np.float32)
        if self.shadow and rng.rand() < self.shadow:
            x *= shadow_mask(x.shape[:2], rng)[..., None]
        if self.low_light and rng.rand() < self.low_light:
            x = x * rng.uniform(*LOW_LIGHT) + rng.normal(0, rng.uniform(*LOW_LIGHT_NOISE), x.shape)
        image = np.clip(np.round(x), 0, 255).astype(np.uint8)
        if self.low_res and rng.rand() < self.low_res:
            image = lower_resolution(image, rng.uniform(*LOW_RES))
        if self.blur and rng.rand() < self.blur:
            image = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(rng.uniform(*BLUR_SIGMA))))
        if self.jpeg and rng.rand() < self.jpeg:
            image = jpeg_compressed(image, rng.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
        return image


def crop_or_pad(image, label, h, w, top, left):
    """The h x w window of a pair whose top-left corner is at (top, left) when the pair is larger, or where
    the pair is placed at (top, left) inside the window when it is smaller (per axis); the rest is
    ignored padding.  An offset beyond the range leaves that much of the window padded."""
    sh, sw = label.shape
    out_image = np.zeros((h, w, 3), np.uint8)
    out_label = np.full((h, w), IGNORE, np.uint8)
    rows = _window(sh, h, top)
    columns = _window(sw, w, left)
    if rows is None or columns is None:
        return out_image, out_label
    (src_r, dst_r), (src_c, dst_c) = rows, columns
    out_image[dst_r, dst_c] = image[src_r, src_c]
    out_label[dst_r, dst_c] = label[src_r, src_c]
    return out_image, out_label


def _window(source, target, offset):
    """(source slice, target slice) along one axis, or None where they do not overlap."""
    if source >= target:        # crop: the target shows source[offset : offset + target]
        start, stop = offset, offset + target
        src = slice(max(0, start), min(source, stop))
        dst = slice(src.start - start, src.stop - start)
    else:                       # pad: the source goes to target[offset : offset + source]
        dst = slice(max(0, offset), min(target, offset + source))
        src = slice(dst.start - offset, dst.stop - offset)
    return (src, dst) if src.stop > src.start else None


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


def lower_resolution(image, fraction):
    """The image as a camera of `fraction` of its resolution would take it, scaled back up (bilinear)."""
    h, w = image.shape[:2]
    small = Image.fromarray(image).resize((max(1, int(w * fraction)), max(1, int(h * fraction))), Image.BILINEAR)
    return np.asarray(small.resize((w, h), Image.BILINEAR))


def jpeg_compressed(image, quality):
    """The image after a JPEG round trip at this quality."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, 'JPEG', quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert('RGB'))
