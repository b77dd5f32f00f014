import numpy as np
import pytest

from fcnroad.data import augment
from fcnroad.data.arrays import IGNORE

OFF = augment.OFF


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
    with pytest.raises(ValueError, match='probabilities'):
        augment.Augmentation(jpeg=2)
    with pytest.raises(ValueError, match='horizon is a fraction'):
        augment.Augmentation(horizon=1.0)


def aligned(image, label):
    """The share of labelled pixels whose colour says the label blocks() gave them."""
    valid = label != IGNORE
    return np.mean((image[..., 0] > 120)[valid] == (label[valid] == 1))


def test_another_aspect_ratio_keeps_labels_on_their_pixels():
    image, label = blocks()
    aug = augment.Augmentation(**dict(OFF, aspect=0.5))
    widths = set()
    for seed in range(6):
        out_image, out_label = aug(image, label, np.random.RandomState(seed))
        assert out_image.shape == image.shape and aligned(out_image, out_label) > 0.95
        widths.add(int((out_label != IGNORE).any(0).sum()))
    assert min(widths) < image.shape[1]          # narrowed: padded at the sides
    assert max(widths) == image.shape[1]         # widened: cropped


def test_a_moved_horizon_shifts_the_picture_up_or_down_with_its_labels():
    image, label = blocks()
    aug = augment.Augmentation(**dict(OFF, horizon=0.25))
    tops, bottoms = 0, 0
    for seed in range(12):
        out_image, out_label = aug(image, label, np.random.RandomState(seed))
        ignored_rows = (out_label == IGNORE).all(1)
        tops += ignored_rows[0]
        bottoms += ignored_rows[-1]
        assert ignored_rows.sum() <= 0.25 * image.shape[0] + 1 and aligned(out_image, out_label) > 0.99
    assert tops and bottoms


def test_a_crop_larger_than_the_image_pads_it_at_the_offset_given():
    image, label = blocks(16, 16)
    out_image, out_label = augment.crop_or_pad(image, label, 24, 32, 4, 10)
    np.testing.assert_array_equal(out_label[4:20, 10:26], label)
    np.testing.assert_array_equal(out_image[4:20, 10:26], image)
    assert (out_label[:4] == IGNORE).all() and (out_label[:, 26:] == IGNORE).all()
    cropped_image, cropped_label = augment.crop_or_pad(image, label, 8, 8, 3, 5)
    np.testing.assert_array_equal(cropped_label, label[3:11, 5:13])


def test_low_light_darkens_and_adds_noise():
    image, label = blocks()
    out_image, out_label = augment.Augmentation(**dict(OFF, low_light=1))(image, label, np.random.RandomState(0))
    np.testing.assert_array_equal(out_label, label)
    assert out_image.mean() < augment.LOW_LIGHT[1] * image.mean() + 3
    flat = out_image[label == 0][:, 2].astype(float)       # one colour in the input: any spread is the noise
    assert flat.std() >= 1


@pytest.mark.parametrize('effect', ['low_res', 'blur'])
def test_low_resolution_and_blur_take_the_fine_detail_away(effect):
    checker = (np.indices((32, 48)).sum(0) % 2 * 255).astype(np.uint8)
    image = np.stack([checker] * 3, -1)
    out_image, _ = augment.Augmentation(**dict(OFF, **{effect: 1}))(image, np.zeros((32, 48), np.uint8),
                                                                    np.random.RandomState(0))
    assert np.abs(np.diff(out_image[..., 0].astype(float), axis=1)).mean() < 0.5 * 255


def test_jpeg_compression_changes_the_pixels_a_little():
    image, label = blocks()
    noisy = np.clip(image + np.random.RandomState(0).randint(-30, 30, image.shape), 0, 255).astype(np.uint8)
    out_image, _ = augment.Augmentation(**dict(OFF, jpeg=1))(noisy, label, np.random.RandomState(1))
    difference = np.abs(out_image.astype(float) - noisy)
    assert 0 < difference.mean() < 30


def test_a_colour_cast_scales_each_channel_by_its_own_factor():
    image = np.full((4, 4, 3), 100, np.uint8)
    out_image, _ = augment.Augmentation(**dict(OFF, colour=0.3))(image, np.zeros((4, 4), np.uint8),
                                                                  np.random.RandomState(0))
    channels = out_image.reshape(-1, 3).mean(0)
    assert len(set(np.round(channels))) == 3 and np.all(np.abs(channels - 100) <= 100 * (np.exp(0.3) - 1) + 1)
