import numpy as np
import pytest

from fcnroad.data import augment
from fcnroad.data.datasets import IGNORE

OFF = dict(flip=0, scale=(1, 1), brightness=0, contrast=0, saturation=0, gamma=0, shadow=0)


def blocks(h=32, w=48):
    """Two colours in 8x8 blocks, and the label that says which: geometry must keep them together."""
    rng = np.random.RandomState(0)
    cells = rng.randint(0, 2, (h // 8, w // 8)).astype(np.uint8)
    label = np.kron(cells, np.ones((8, 8), np.uint8))
    image = np.where(label[..., None] == 1, np.uint8([200, 60, 60]), np.uint8([40, 40, 180])).astype(np.uint8)
    return image, label


def test_flip_moves_image_and_label_together():
    image, label = blocks()
    out_image, out_label = augment.Augmentation(**dict(OFF, flip=1))(image, label, np.random.RandomState(0))
    np.testing.assert_array_equal(out_image, image[:, ::-1])
    np.testing.assert_array_equal(out_label, label[:, ::-1])


@pytest.mark.parametrize('zoom', [1.7, 0.6])
def test_zoom_keeps_labels_on_their_pixels_and_pads_with_ignore(zoom):
    image, label = blocks()
    aug = augment.Augmentation(**dict(OFF, scale=(zoom, zoom)))
    out_image, out_label = aug(image, label, np.random.RandomState(1))
    assert out_image.shape == image.shape and out_label.shape == label.shape
    assert set(np.unique(out_label)) <= {0, 1, IGNORE}      # nearest neighbour: no new classes
    valid = out_label != IGNORE
    red = out_image[..., 0] > 120
    assert np.mean(red[valid] == (out_label[valid] == 1)) > 0.95
    if zoom < 1:
        assert 0.5 < 1 - valid.mean() < 0.75                # 1 - 0.6^2 of the pixels are padding
        assert (out_image[~valid] == 0).all()
    else:
        assert valid.all()


def test_photometry_changes_the_image_only_and_stays_in_range():
    image, label = blocks()
    aug = augment.Augmentation(**dict(OFF, brightness=0.5, contrast=0.5, saturation=0.5, gamma=0.5, shadow=1))
    out_image, out_label = aug(image, label, np.random.RandomState(2))
    np.testing.assert_array_equal(out_label, label)
    assert out_image.dtype == np.uint8 and not np.array_equal(out_image, image)


def test_shadow_darkens_one_side_of_a_line():
    mask = augment.shadow_mask((20, 30), np.random.RandomState(3))
    values = np.unique(mask)
    assert len(values) == 2 and values[1] == 1.0
    assert augment.SHADOW_DARKNESS[0] <= values[0] <= augment.SHADOW_DARKNESS[1]
    for row in mask:     # one boundary per row: the shaded pixels are contiguous from one edge
        shaded = np.flatnonzero(row < 1)
        assert len(shaded) == 0 or shaded[0] == 0 or shaded[-1] == len(row) - 1


def test_same_seed_same_augmentation():
    image, label = blocks()
    aug = augment.Augmentation()
    a = aug(image, label, np.random.RandomState(7))
    b = aug(image, label, np.random.RandomState(7))
    c = aug(image, label, np.random.RandomState(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match='probabilities'):
        augment.Augmentation(flip=1.5)
    with pytest.raises(ValueError, match='scale must be'):
        augment.Augmentation(scale=(1.5, 1.0))
    with pytest.raises(ValueError, match='unknown augmentation'):
        augment.Augmentation(rotate=10)
