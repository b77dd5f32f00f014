"""Region-based segmentation the R-CNN / SDS way: the approach FCN replaced.

SDS (Hariharan et al. 2014): free-form regions are proposed bottom-up, each region is
described by CNN features of its bounding box and of its foreground (the region alone),
the two concatenated, a linear classifier per class scores the region, and each pixel takes
the class of the highest-scoring region that contains it.

Here the regions are Felzenszwalb and Huttenlocher's graph segments (scikit-image) at
PROPOSAL_SCALES, so every pixel lies in one region per scale.  The features are frozen
ImageNet VGG16 conv4_3 and conv5_3 averaged over the box and over the region, pooled from
one pass over the whole image (SPP-net's and convolutional feature masking's shortcut: SDS
ran VGG on each region's warped crop, about 600 passes an image here).  The
classifier is a logistic regression (scikit-learn) on standardised features: one weight
vector per class, and probabilities, which the KITTI devkit's precision-recall curve needs.
"""
import numpy as np

from fcnroad.models import encoders

# Felzenszwalb's k (larger: larger regions), its smoothing and its smallest region, in pixels
# of the image it segments.  Fine scales: at CamVid's dusk, k 200 and above merge the dark road
# with its surroundings, and those mixed regions, confidently not road, win the pixels (road IoU
# 0.45 with k 50, 100, 200 against 0.63 with these; BENCHMARKS.md, *Region-based segmentation*).
PROPOSAL_SCALES = (30, 60, 100)
PROPOSAL_SIGMA = 0.8
PROPOSAL_MIN_SIZE = 100
# VGG16 endpoints pooled: conv4_3 (stride 8) and conv5_3 (stride 16), 512 channels each.
FEATURE_LAYERS = ('conv4', 'conv5')
# A training region takes its majority class when at least this share of its pixels is labelled.
MIN_LABELLED = 0.5
# The logistic regression's inverse L2 strength, and its iterations (lbfgs).
CLASSIFIER_C = 1.0
CLASSIFIER_ITERATIONS = 500


def propose(image, scales=PROPOSAL_SCALES, sigma=PROPOSAL_SIGMA, min_size=PROPOSAL_MIN_SIZE):
    """Region maps (S, H, W) int32 of a uint8 RGB image, one per scale, regions numbered
    0..R-1 across the maps (a region is the set of pixels holding its number)."""
    from skimage.segmentation import felzenszwalb
    maps, offset = [], 0
    for k in scales:
        segments = felzenszwalb(image, scale=k, sigma=sigma, min_size=min_size)
        _, numbered = np.unique(segments, return_inverse=True)     # consecutive, whatever felzenszwalb numbered
        numbered = numbered.reshape(image.shape[:2]).astype(np.int32) + offset
        offset = int(numbered.max()) + 1
        maps.append(numbered)
    return np.stack(maps)


def region_count(regions):
    return int(regions.max()) + 1


def cell_index(image_shape, grid_shape):
    """(H, W): the feature cell each pixel falls in, numbered row by row."""
    (height, width), (rows, cols) = image_shape, grid_shape
    return (np.arange(height) * rows // height)[:, None] * cols + (np.arange(width) * cols // width)[None, :]


def pooling_weights(regions, grid_shape):
    """(box, foreground): two (R, rows*cols) matrices whose rows average a feature map over a
    region's bounding box and over the region itself, each cell weighted by its pixels in them."""
    from scipy import ndimage
    num, (rows, cols) = region_count(regions), grid_shape
    height, width = regions.shape[1:]
    cell = np.broadcast_to(cell_index((height, width), grid_shape), regions.shape)
    counts = np.bincount((regions.astype(np.int64) * rows * cols + cell).ravel(), minlength=num * rows * cols)
    foreground = counts.reshape(num, rows * cols).astype(np.float32)
    row_of, col_of = np.arange(height) * rows // height, np.arange(width) * cols // width
    box = np.empty_like(foreground)
    for r, (_, ys, xs) in enumerate(ndimage.find_objects(regions + 1)):   # regions are unique across maps
        box[r] = np.outer(np.bincount(row_of[ys], minlength=rows), np.bincount(col_of[xs], minlength=cols)).ravel()
    return box / box.sum(1, keepdims=True), foreground / foreground.sum(1, keepdims=True)


def describe(regions, feature_maps):
    """(R, 2 * sum of depths) float32: for each feature map (rows, cols, depth) of the image, its
    average over each region's box and over the region itself, concatenated (SDS's two features)."""
    parts = []
    for features in feature_maps:
        box, foreground = pooling_weights(regions, features.shape[:2])
        flat = features.reshape(-1, features.shape[-1]).astype(np.float32)
        parts += [box @ flat, foreground @ flat]
    return np.concatenate(parts, axis=1)


def region_targets(regions, label, num_classes, ignore=255, min_labelled=MIN_LABELLED):
    """(R,) int: each region's majority class among its labelled pixels, -1 where fewer than
    min_labelled of its pixels carry a label (such regions do not train)."""
    num = region_count(regions)
    stacked = np.broadcast_to(label, regions.shape).ravel()
    flat = regions.ravel()
    labelled = stacked != ignore
    votes = np.bincount(flat[labelled].astype(np.int64) * num_classes + stacked[labelled],
                        minlength=num * num_classes).reshape(num, num_classes)
    sizes = np.bincount(flat, minlength=num)
    targets = votes.argmax(1)
    targets[votes.sum(1) < min_labelled * sizes] = -1
    return targets


def pixel_probabilities(regions, region_probabilities):
    """(H, W, C): each pixel takes the class probabilities of the highest-scoring region that
    contains it, a region's score being its top class probability."""
    scores = region_probabilities.max(1)[regions]                        # (S, H, W)
    best = np.take_along_axis(regions, scores.argmax(0)[None], 0)[0]
    return region_probabilities[best]


class RegionClassifier:
    """Standardisation and one linear scorer per class, as arrays (saved and read back as such)."""

    def __init__(self, mean, scale, coef, intercept, classes, num_classes):
        self.mean, self.scale = np.asarray(mean, np.float32), np.asarray(scale, np.float32)
        self.coef, self.intercept = np.asarray(coef, np.float32), np.asarray(intercept, np.float32)
        self.classes, self.num_classes = np.asarray(classes, np.int64), int(num_classes)

    @classmethod
    def fit(cls, features, targets, num_classes, c=CLASSIFIER_C, iterations=CLASSIFIER_ITERATIONS):
        """Fit on (N, D) features and (N,) classes (those present; a class never seen scores 0).
        Deterministic: lbfgs draws no random numbers, so there is no seed to give."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        classes = np.unique(targets)
        if len(classes) < 2:
            raise ValueError('the training regions hold one class only (%s): nothing to tell apart' % classes)
        scaler = StandardScaler().fit(features)
        model = LogisticRegression(C=c, max_iter=iterations)
        model.fit(scaler.transform(features), targets)
        return cls(scaler.mean_, scaler.scale_, model.coef_, model.intercept_, model.classes_, num_classes)

    def probabilities(self, features):
        """(N, num_classes) class probabilities of (N, D) features."""
        z = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        if len(self.classes) == 2:      # scikit-learn's binary model: one scorer, for the second class
            z = np.concatenate([np.zeros_like(z), z], axis=1)
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        out = np.zeros((len(features), self.num_classes), np.float32)
        out[:, self.classes] = p
        return out

    def arrays(self):
        return dict(mean=self.mean, scale=self.scale, coef=self.coef, intercept=self.intercept,
                    classes=self.classes, num_classes=np.int64(self.num_classes))

    @classmethod
    def from_arrays(cls, arrays):
        return cls(**{name: arrays[name] for name in ('mean', 'scale', 'coef', 'intercept', 'classes', 'num_classes')})


def feature_graph(images, weights):
    """The frozen VGG16 trunk on images (RGB 0..255): its FEATURE_LAYERS tensors (fill the
    weights with encoders.transplant)."""
    endpoints = encoders.vgg16(images, 1.0, weights, fully_connected=False)
    return [endpoints[name] for name in FEATURE_LAYERS]
