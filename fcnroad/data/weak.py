"""Learning from boxes: boxes from masks or from files, and the training labels made from them.

`main.py --supervision`:
  masks            the dataset's masks (full supervision)
  boxes            each box filled with its class (the naive baseline)
  boxes-grabcut    each box's interior refined by GrabCut; what GrabCut rejects is ignored
                   ("Simple Does It", Khoreva et al. 2017)
  boxes-recursive  boxes, then after each round of training the network's own predictions
                   inside their boxes become the labels (BoxSup; Simple Does It's recursion)
  boxes-crf        each pixel may take only the classes of the boxes covering it (and the
                   background); the fully connected CRF chooses among them by colour and
                   position, the smallest box's class favoured; what it gives a class no
                   covering box allows is ignored (dense-CRF box labels)

Overlaps: the smallest box wins (boxes are painted largest first).  Pixels outside every
box take the `background` class when the box source says every object of the other
classes is boxed (a box file's "background"), otherwise they are ignored.

Box files (`--boxes-dir DIR`): one `<image name without extension>.json` per training image,
    {"boxes": [{"class": "road", "box": [x0, y0, x1, y1]}, ...], "background": "not road"}
in pixels of the image, x1 and y1 exclusive, classes by name (or index); "background" optional.
Without --boxes-dir the boxes are derived from the masks: one per connected component
(8-connected) of each class, components under `min_box_pixels` dropped; "stuff" classes
(road, sky, 'not road') become the boxes of their regions like any other.
"""
import collections
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fcnroad import files
from fcnroad.data import arrays, datasets

SUPERVISIONS = ('masks', 'boxes', 'boxes-grabcut', 'boxes-recursive', 'boxes-crf')
DEFAULTS = {
    'min_box_pixels': 64,        # connected components smaller than this get no box
    'grabcut_iterations': 5,
    'grabcut_max_side': 240,     # GrabCut (and the CRF) run on the image scaled down to this (labels are then upsampled)
    'crf_box_confidence': 0.6,   # boxes-crf: the prior of the smallest covering box's class; the rest is shared
    'recursive_rounds': 2,       # relabelling rounds of boxes-recursive (training is split in rounds + 1)
}
# GrabCut models the background from pixels outside the box: a box that leaves fewer than this
# share of the image outside it (a 'stuff' region spanning the frame) is filled instead.
GRABCUT_MIN_OUTSIDE = 0.05
GRABCUT_MIN_SIDE = 4             # boxes thinner than this (in GrabCut's pixels) are filled
LABELS_COMPLETE = 'complete.json'

Box = collections.namedtuple('Box', 'label x0 y0 x1 y1')


class BoxError(ValueError):
    """A box file is missing, malformed or names an unknown class."""


def area(box):
    return (box.x1 - box.x0) * (box.y1 - box.y0)


def paint_order(boxes):
    """Largest first, so that where boxes overlap the smallest is painted last and wins."""
    return sorted(boxes, key=lambda b: (-area(b), b.label, b.y0, b.x0))


def boxes_from_mask(label, num_classes, min_pixels=DEFAULTS['min_box_pixels']):
    """One box per connected component (8-connected) of each class of a label map; IGNORE is no class."""
    import cv2
    boxes = []
    for cls in range(num_classes):
        count, _, stats, _ = cv2.connectedComponentsWithStats((label == cls).astype(np.uint8), connectivity=8)
        for x, y, w, h, pixels in stats[1:count]:
            if pixels >= min_pixels:
                boxes.append(Box(cls, int(x), int(y), int(x + w), int(y + h)))
    return boxes


def read_box_file(path, class_names, shape):
    """(boxes, background class or None) of one box file, checked against the image's shape."""
    try:
        with open(path) as f:
            data = json.load(f)
        entries = data['boxes']
    except FileNotFoundError:
        raise BoxError('%s: no box file for this training image' % path) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BoxError('%s: not a box file ({"boxes": [{"class": ..., "box": [x0, y0, x1, y1]}]}): %s'
                       % (path, e)) from None
    h, w = shape

    def class_index(value):
        if isinstance(value, int) and 0 <= value < len(class_names):
            return value
        if value in class_names:
            return class_names.index(value)
        raise BoxError('%s: unknown class %r (classes: %s)' % (path, value, ', '.join(class_names)))

    boxes = []
    for i, entry in enumerate(entries):
        try:
            x0, y0, x1, y1 = (int(v) for v in entry['box'])
            cls = class_index(entry['class'])
        except (KeyError, TypeError, ValueError) as e:
            raise BoxError('%s: box %d is not {"class": ..., "box": [x0, y0, x1, y1]} (%s)' % (path, i, e)) from None
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise BoxError('%s: box %d %s is empty or outside the %dx%d image' % (path, i, [x0, y0, x1, y1], w, h))
        boxes.append(Box(cls, x0, y0, x1, y1))
    background = data.get('background')
    return boxes, (class_index(background) if background is not None else None)


def box_label(boxes, shape, background=None):
    """Filled boxes, smallest on top; outside every box the background class, or IGNORE."""
    label = np.full(shape, arrays.IGNORE if background is None else background, np.uint8)
    for b in paint_order(boxes):
        label[b.y0:b.y1, b.x0:b.x1] = b.label
    return label


def scaled_down(image, max_side):
    """(the image scaled so its longer side is at most max_side, the scale)."""
    import cv2
    h, w = image.shape[:2]
    scale = min(1.0, float(max_side) / max(h, w))
    if scale == 1:
        return image, scale
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA), scale


def scaled_box(b, scale):
    """(x0, y0, x1, y1) of a box on the image scaled by scale, at least one pixel each way."""
    x0, y0 = int(b.x0 * scale), int(b.y0 * scale)
    return x0, y0, max(x0 + 1, int(np.ceil(b.x1 * scale))), max(y0 + 1, int(np.ceil(b.y1 * scale)))


def crf_label(image, boxes, num_classes, refine, background=None, confidence=DEFAULTS['crf_box_confidence'],
              max_side=DEFAULTS['grabcut_max_side']):
    """Labels chosen by the fully connected CRF among the classes the boxes allow.

    refine(image, probabilities, scale) -> probabilities is the CRF at an image scaled by
    `scale` (evaluation/crf.py's scaled_dense_crf, passed in: data sits below evaluation).  Each pixel's prior: `confidence` on the smallest
    covering box's class, the rest shared by the other covering boxes' classes and the
    background; outside every box the background (fixed), or nothing (IGNORE).  A pixel the CRF
    gives a class that no covering box allows is IGNORE.
    """
    import cv2
    h, w = image.shape[:2]
    small, scale = scaled_down(image, max_side)
    sh, sw = small.shape[:2]
    allowed = np.zeros((sh, sw, num_classes), bool)
    favoured = np.full((sh, sw), -1, np.int64)
    for b in paint_order(boxes):                  # the smallest last: it is the favoured class
        x0, y0, x1, y1 = scaled_box(b, scale)
        allowed[y0:y1, x0:x1, b.label] = True
        favoured[y0:y1, x0:x1] = b.label
    inside = favoured >= 0
    boxed = allowed.copy()                        # the covering boxes' classes
    if background is not None:
        allowed[..., background] = True
    index = np.maximum(favoured, 0)[..., None]
    others = allowed.copy()
    np.put_along_axis(others, index, False, -1)
    count = others.sum(-1)
    boxed_prior = np.where(others, ((1 - confidence) / np.maximum(count, 1))[..., None], 0.0)
    np.put_along_axis(boxed_prior, index, np.where(count > 0, confidence, 1.0)[..., None], -1)
    prior = np.full((sh, sw, num_classes), 1.0 / num_classes)      # outside, no background: no opinion
    if background is not None:
        prior[~inside] = np.eye(num_classes)[background]
    prior[inside] = boxed_prior[inside]
    prior = np.maximum(prior, 1e-4)
    refined = refine(np.ascontiguousarray(small), (prior / prior.sum(-1, keepdims=True)).astype(np.float32), scale)
    chosen = refined.argmax(-1)
    keep = np.take_along_axis(boxed, chosen[..., None], -1)[..., 0]
    if background is not None:
        keep |= inside & (chosen == background)
    label = np.where(inside & keep, chosen, arrays.IGNORE).astype(np.uint8)
    if background is not None:
        label[~inside] = background
    if scale < 1:
        label = cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST)
    return label


def grabcut_label(image, boxes, background=None, iterations=DEFAULTS['grabcut_iterations'],
                  max_side=DEFAULTS['grabcut_max_side']):
    """Each box's GrabCut foreground painted with its class (smallest box on top).

    Pixels inside a box that no box's GrabCut accepts are unsure: IGNORE.  Outside every
    box: the background class, or IGNORE.
    """
    import cv2
    h, w = image.shape[:2]
    small, scale = scaled_down(image, max_side)
    bgr = np.ascontiguousarray(small[..., ::-1])
    sh, sw = bgr.shape[:2]
    label = np.full((sh, sw), arrays.IGNORE, np.uint8)
    inside = np.zeros((sh, sw), bool)
    for b in paint_order(boxes):
        x0, y0, x1, y1 = scaled_box(b, scale)
        inside[y0:y1, x0:x1] = True
        box_area = (x1 - x0) * (y1 - y0)
        if min(x1 - x0, y1 - y0) < GRABCUT_MIN_SIDE or sh * sw - box_area < GRABCUT_MIN_OUTSIDE * sh * sw:
            label[y0:y1, x0:x1] = b.label             # too thin, or no background to model: filled
            continue
        mask = np.zeros((sh, sw), np.uint8)
        models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(bgr, mask, (x0, y0, x1 - x0, y1 - y0), *models, iterations, cv2.GC_INIT_WITH_RECT)
        foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        label[foreground] = b.label
    if background is not None:
        label[~inside] = background
    if scale < 1:
        label = cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST)
    return label


def recursive_label(prediction, boxes, num_classes, background=None):
    """A round of recursive training: the network's prediction where a box containing the pixel
    (or the background) allows that class, the box label elsewhere; outside boxes unchanged."""
    shape = prediction.shape
    base = box_label(boxes, shape, background)
    allowed = np.zeros(shape + (num_classes,), bool)
    for b in boxes:
        allowed[b.y0:b.y1, b.x0:b.x1, b.label] = True
    inside = allowed.any(-1)
    if background is not None:
        allowed[..., background] = True
    predicted = np.clip(prediction, 0, num_classes - 1)
    keep = inside & np.take_along_axis(allowed, predicted[..., None].astype(np.int64), -1)[..., 0]
    return np.where(keep, prediction, base).astype(np.uint8)


# ------------------------------------------------------------------ datasets of weak labels
def image_boxes(dataset, boxes_dir=None, min_pixels=DEFAULTS['min_box_pixels']):
    """[(boxes, background)] per training pair: from box files, or from the dataset's masks."""
    out = []
    for image_path, label_path in dataset.pairs:
        if boxes_dir:
            stem = os.path.splitext(os.path.basename(image_path))[0]
            shape = arrays.read_png(image_path).shape[:2]
            out.append(read_box_file(os.path.join(boxes_dir, stem + '.json'), list(dataset.class_names), shape))
        else:
            out.append((boxes_from_mask(dataset.read_label(label_path), dataset.num_classes, min_pixels), None))
    return out


def _cache_key(dataset, supervision, settings, boxes_dir):
    described = json.dumps([dataset.name, [os.path.abspath(p) for p, _ in dataset.pairs], supervision,
                            sorted(settings.items()), os.path.abspath(boxes_dir) if boxes_dir else None])
    return hashlib.sha1(described.encode()).hexdigest()[:12]


def read_label(path):
    return arrays.read_png(path, channels=1)


def labelled_dataset(dataset, folder, labels, suffix):
    """The dataset with these label maps (written to folder) in place of its masks."""
    os.makedirs(folder, exist_ok=True)
    pairs = []
    for i, ((image_path, _), label) in enumerate(zip(dataset.pairs, labels)):
        path = os.path.join(folder, '%05d-%s.png' % (i, os.path.splitext(os.path.basename(image_path))[0]))
        if label is not None:
            arrays.write_image(path, label)
        pairs.append((image_path, path))
    return datasets.Dataset('%s/%s' % (dataset.name, suffix), pairs, dataset.class_names, read_label,
                            dataset.colours, dataset.positive)


# The settings each kind of label is made with (and cached by).
LABEL_SETTINGS = {'boxes': ('min_box_pixels',),
                  'boxes-grabcut': ('min_box_pixels', 'grabcut_iterations', 'grabcut_max_side'),
                  'boxes-crf': ('min_box_pixels', 'grabcut_max_side', 'crf_box_confidence')}


def weak_dataset(dataset, supervision, cache_dir, boxes_dir=None, settings=None, workers=None, log=print,
                 refine=None):
    """(dataset whose labels are made from boxes, its boxes) for --supervision; labels cached.

    The labels of a (dataset, supervision, settings, box source) are made once, in parallel,
    into cache_dir/<key>/, and marked complete only when every file is written.  refine: the
    CRF boxes-crf needs (crf_label).
    """
    if supervision not in SUPERVISIONS or supervision == 'masks':
        raise ValueError('supervision must be one of %s, not %r' % (', '.join(SUPERVISIONS[1:]), supervision))
    if supervision == 'boxes-crf' and refine is None:
        raise ValueError('boxes-crf needs the CRF (refine=)')
    settings = dict(DEFAULTS, **(settings or {}))
    made = 'boxes' if supervision == 'boxes-recursive' else supervision     # recursion starts from boxes
    used = {k: settings[k] for k in LABEL_SETTINGS[made]}
    folder = os.path.join(cache_dir, '%s-%s-%s' % (dataset.name.replace('/', '_'), made,
                                                   _cache_key(dataset, made, used, boxes_dir)))
    complete = os.path.join(folder, LABELS_COMPLETE)
    if os.path.isfile(complete):
        log('%s labels of %s: cached in %s' % (made, dataset.name, folder))
        with open(complete) as f:
            saved = json.load(f)['image_boxes']
        all_boxes = [([Box(*b) for b in boxes], background) for boxes, background in saved]
        return labelled_dataset(dataset, folder, [None] * len(dataset), made), all_boxes
    all_boxes = image_boxes(dataset, boxes_dir, settings['min_box_pixels'])

    def make(i):
        boxes, background = all_boxes[i]
        image_path, _ = dataset.pairs[i]
        if made == 'boxes':
            return box_label(boxes, arrays.read_png(image_path).shape[:2], background)
        if made == 'boxes-crf':
            return crf_label(arrays.read_png(image_path), boxes, dataset.num_classes, refine, background,
                             settings['crf_box_confidence'], settings['grabcut_max_side'])
        return grabcut_label(arrays.read_png(image_path), boxes, background,
                             settings['grabcut_iterations'], settings['grabcut_max_side'])

    with ThreadPoolExecutor(workers or os.cpu_count()) as pool:   # OpenCV releases the GIL (the CRF may not)
        labels = list(pool.map(make, range(len(dataset))))
    out = labelled_dataset(dataset, folder, labels, made)
    count = sum(len(b) for b, _ in all_boxes)
    # The boxes too, so that a cached run (boxes-recursive needs them) reads no mask again.
    files.write_json_atomic(complete, {
        'supervision': made, 'settings': used, 'images': len(dataset), 'boxes': count,
        'image_boxes': [[[list(map(int, b)) for b in boxes], background] for boxes, background in all_boxes]})
    log('%s labels of %s: made for %d images (%d boxes) in %s' % (made, dataset.name, len(dataset), count, folder))
    return out, all_boxes
