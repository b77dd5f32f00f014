"""The dense CRF moves a noisy mask towards the clean one the image's edges describe."""
import numpy as np
import pytest

pytest.importorskip('pydensecrf.densecrf', reason='pydensecrf2 is not installed')
from fcnroad.evaluation import crf  # noqa: E402


def _two_regions(h=60, w=80, seed=0):
    """A dark left region and a bright right one (class 0 and 1), and a noisy guess of them."""
    rng = np.random.RandomState(seed)
    image = np.zeros((h, w, 3), np.uint8)
    image[:, w // 2:] = 200
    truth = np.zeros((h, w), np.int64)
    truth[:, w // 2:] = 1
    p1 = np.where(truth == 1, 0.7, 0.3) + rng.normal(0, 0.25, (h, w))    # right more likely, much noise
    p1 = np.clip(p1, 0.02, 0.98)
    return image, truth, np.stack([1 - p1, p1], -1).astype(np.float32)


def test_crf_cleans_a_noisy_mask_along_the_image_edge():
    image, truth, probs = _two_regions()
    noisy_errors = (probs.argmax(-1) != truth).mean()
    image.flags.writeable = False                   # as decoded frames often are
    refined = crf.dense_crf(image, probs)
    assert refined.shape == probs.shape
    np.testing.assert_allclose(refined.sum(-1), 1.0, atol=1e-4)
    refined_errors = (refined.argmax(-1) != truth).mean()
    assert noisy_errors > 0.1 and refined_errors < noisy_errors / 5


def test_crf_keeps_a_confident_prediction():
    image, truth, _ = _two_regions()
    confident = np.stack([truth == 0, truth == 1], -1).astype(np.float32) * 0.98 + 0.01
    assert (crf.dense_crf(image, confident).argmax(-1) == truth).all()


def test_crf_refuses_an_image_of_another_size():
    image, _, probs = _two_regions()
    with pytest.raises(ValueError, match='differ in size'):
        crf.dense_crf(image[:-1], probs)
