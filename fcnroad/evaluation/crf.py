"""Fully connected CRF post-processing (Kraehenbuehl & Koltun), as DeepLab refines its maps.

Each pixel's class probabilities are the unary term; two Gaussian pairwise terms pull
pixels towards the labels of pixels that are near (smoothness) or near and of similar
colour (appearance), so boundaries snap to image edges.  Mean-field inference is
pydensecrf2's (the authors' C++ code behind a Python binding): evaluate.py and
predict.py use it with --crf.
"""
import numpy as np

# DeepLab-LargeFOV's cross-validated kernel settings: appearance weight 4, position
# std 121 px and colour std 5; smoothness weight 3, std 3 px; ten mean-field steps.
DEFAULTS = {'iterations': 10, 'appearance_weight': 4.0, 'appearance_xy': 121.0, 'appearance_rgb': 5.0,
            'smoothness_weight': 3.0, 'smoothness_xy': 3.0}
MIN_PROBABILITY = 1e-8      # keeps -log(p) finite


class CRFUnavailable(RuntimeError):
    """pydensecrf2 is not installed."""


def dense_crf(image, probabilities, iterations=DEFAULTS['iterations'], **settings):
    """Refined probabilities (H, W, C) of an image (H, W, 3 uint8) and its network probabilities."""
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError:
        raise CRFUnavailable('--crf needs pydensecrf2 (pip install "fcnroad[crf]", or -r requirements.txt)') from None
    s = dict(DEFAULTS, **settings)
    h, w, c = probabilities.shape
    if image.shape[:2] != (h, w):
        raise ValueError('image %s and probabilities %s differ in size' % (image.shape[:2], (h, w)))
    crf = dcrf.DenseCRF2D(w, h, c)
    unary = -np.log(np.clip(probabilities, MIN_PROBABILITY, 1.0)).transpose(2, 0, 1).reshape(c, -1)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, np.float32))
    crf.addPairwiseGaussian(sxy=s['smoothness_xy'], compat=s['smoothness_weight'])
    crf.addPairwiseBilateral(sxy=s['appearance_xy'], srgb=s['appearance_rgb'],
                             rgbim=np.require(image, np.uint8, ['C', 'W']), compat=s['appearance_weight'])
    q = np.array(crf.inference(iterations), np.float32)
    return q.reshape(c, h, w).transpose(1, 2, 0)


def scaled_dense_crf(image, probabilities, scale, iterations=DEFAULTS['iterations']):
    """dense_crf on an image scaled by `scale` from the size the kernels were set for: their
    pixel standard deviations scaled alike (boxes-crf labels a scaled-down image)."""
    return dense_crf(image, probabilities, iterations, appearance_xy=DEFAULTS['appearance_xy'] * scale,
                     smoothness_xy=max(1.0, DEFAULTS['smoothness_xy'] * scale))
