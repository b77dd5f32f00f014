import os

import numpy as np
import pytest

from fcnroad.data import arrays, camvid, cityscapes, datasets, folders, kitti_road, registry
from conftest import make_kitti, write_png


def test_kitti_label_maps_devkit_colours(tmp_path):
    mask = np.zeros((2, 3, 3), np.uint8)
    mask[0, 0] = (255, 0, 255)
    mask[0, 1] = (255, 0, 0)
    write_png(str(tmp_path / 'm.png'), mask)
    label = kitti_road.kitti_label(str(tmp_path / 'm.png'))
    np.testing.assert_array_equal(label, [[1, 0, arrays.IGNORE], [arrays.IGNORE] * 3])


def test_kitti_label_reads_other_colours_as_the_devkit_does(tmp_path):
    # road where blue > 0, evaluated where red > 0: (0,0,255) as in 16 original masks is not evaluated
    mask = np.array([[(0, 0, 255), (255, 0, 255), (255, 0, 0)],
                     [(200, 10, 40), (12, 200, 0), (0, 0, 0)]], np.uint8)
    path = str(tmp_path / 'um_road_000000.png')
    write_png(path, mask)
    ig = arrays.IGNORE
    np.testing.assert_array_equal(kitti_road.kitti_label(path), [[ig, 1, 0], [1, 0, ig]])


def test_kitti_label_reads_rgba_masks(tmp_path):
    mask = np.zeros((1, 2, 4), np.uint8)
    mask[0, 0] = (255, 0, 255, 255)
    mask[0, 1] = (255, 0, 0, 255)
    write_png(str(tmp_path / 'm.png'), mask)
    np.testing.assert_array_equal(kitti_road.kitti_label(str(tmp_path / 'm.png')), [[1, 0]])


def test_a_greyscale_image_is_not_a_kitti_mask(tmp_path):
    path = str(tmp_path / 'um_road_000001.png')
    write_png(path, np.full((2, 2), 255, np.uint8))
    with pytest.raises(arrays.DataError, match=r'um_road_000001\.png: not a KITTI road mask: it has one channel'):
        kitti_road.kitti_label(path)


def test_a_mask_without_red_is_not_a_kitti_mask(tmp_path):
    path = str(tmp_path / 'um_road_000002.png')
    write_png(path, np.zeros((2, 2, 3), np.uint8) + np.uint8([0, 0, 255]))
    with pytest.raises(arrays.DataError, match=r'um_road_000002\.png: not a KITTI road mask: no pixel has red'):
        kitti_road.kitti_label(path)


def test_check_names_each_pair_that_does_not_read_and_passes_the_rest(tmp_path):
    root = make_kitti(str(tmp_path / 'k'), n_train=4, n_test=0)
    dataset = kitti_road.kitti_dataset(os.path.join(root, 'data_road'))
    (image0, mask0), (image1, mask1) = dataset.pairs[:2]
    write_png(mask0, np.zeros((2, 2, 3), np.uint8) + np.uint8([255, 0, 0]))     # a mask of another size
    with open(image1, 'wb') as f:
        f.write(b'not an image')
    bad = datasets.check(dataset, progress=False)
    assert [pair for pair, _ in bad] == [(image0, mask0), (image1, mask1)]
    assert 'um_road_000000.png: label is 2x2 but its image' in bad[0][1]
    assert 'um_000001.png: cannot read image' in bad[1][1]
    assert len(datasets.without(dataset, [p for p, _ in bad])) == 2


def test_check_all_names_the_first_bad_file_and_counts_the_rest_or_leaves_them_out(tmp_path, capsys):
    root = make_kitti(str(tmp_path), n_train=6, n_test=0, shape=(32, 64))
    masks = os.path.join(root, 'data_road', 'training', 'gt_image_2')
    for i in (1, 4):
        with open(os.path.join(masks, 'um_road_%06d.png' % i), 'wb') as f:
            f.write(b'not a png')
    train, val = registry.load('kitti', root, val_fraction=0.5)
    with pytest.raises(arrays.DataError, match=r'um_road_00000[14].png: cannot read image .*\(and 1 more files '
                                               r'that do not read; a hint\)$'):
        datasets.check_all([train, val], False, 'a hint')
    (kept_train, kept_val), bad = datasets.check_all([train, val], True, 'a hint')
    assert sorted(os.path.basename(label) for (_, label), _ in bad) == ['um_road_000001.png', 'um_road_000004.png']
    assert len(kept_train) + len(kept_val) == 4
    assert capsys.readouterr().err.count('WARNING: left out: ') == 2


def test_real_kitti_masks_all_read_the_devkit_way(shared_data):
    data_road = os.path.join(shared_data, 'kitti_road_train', 'data_road')
    if not os.path.isdir(data_road):
        pytest.skip('%s absent: the KITTI Road training set is not here' % data_road)
    mask = os.path.join(data_road, 'training', 'gt_image_2', 'um_road_000057.png')   # has (0,0,255) pixels
    raw = arrays.read_png(mask, channels=None)
    odd = np.all(raw[..., :3] == (0, 0, 255), axis=-1)
    assert odd.any()
    label = kitti_road.kitti_label(mask)
    assert np.all(label[odd] == arrays.IGNORE)
    assert set(np.unique(label)) == {0, 1, arrays.IGNORE}


def test_kitti_pairs_image_without_mask(tmp_path):
    root = make_kitti(str(tmp_path), n_train=3, n_test=1)
    training = os.path.join(root, 'data_road', 'training')
    os.remove(os.path.join(training, 'gt_image_2', 'um_road_000001.png'))
    with pytest.warns(UserWarning, match=r'1 of the 3 images .* have no road mask and are left out of '
                                         r'training: um_000001\.png \(expected gt_image_2/um_road_000001\.png\)'):
        pairs = kitti_road.kitti_pairs(training)
    assert [os.path.basename(i) for i, _ in pairs] == ['um_000000.png', 'um_000002.png']
    with pytest.raises(arrays.DataError, match=r'um_000001\.png: image has no road mask'):
        kitti_road.kitti_pairs(training, strict=True)


def test_kitti_pairs_mask_without_image_and_missing_folder(tmp_path):
    root = make_kitti(str(tmp_path), n_train=2, n_test=1)
    training = os.path.join(root, 'data_road', 'training')
    os.remove(os.path.join(training, 'image_2', 'um_000000.png'))
    with pytest.raises(arrays.DataError, match=r'um_road_000000\.png: road mask without its image'):
        kitti_road.kitti_pairs(training)
    with pytest.raises(arrays.DataError, match='nowhere.*no such folder'):
        kitti_road.kitti_pairs(str(tmp_path / 'nowhere'))


def test_kitti_split_is_stable_disjoint_and_complete(tmp_path):
    root = make_kitti(str(tmp_path), n_train=10, n_test=1)
    a_train, a_val = datasets.split(kitti_road.kitti_dataset(os.path.join(root, 'data_road')), 0.3)
    ds = kitti_road.kitti_dataset(os.path.join(root, 'data_road'))
    ds.pairs.reverse()  # the listing order must not matter
    b_train, b_val = datasets.split(ds, 0.3)
    assert a_val.pairs == b_val.pairs and a_train.pairs == b_train.pairs
    assert len(a_val) == 3 and len(a_train) == 7
    assert not set(a_val.pairs) & set(a_train.pairs)


def test_split_keeps_one_for_training_and_one_for_validation(tmp_path):
    root = make_kitti(str(tmp_path), n_train=2, n_test=1)
    train, val = datasets.split(kitti_road.kitti_dataset(os.path.join(root, 'data_road')), 0.1)
    assert len(train) == 1 and len(val) == 1
    train, val = datasets.split(kitti_road.kitti_dataset(os.path.join(root, 'data_road')), 0.0)
    assert len(train) == 2 and len(val) == 0


def test_camvid_real_files_have_the_right_label_sets(camvid_real):
    train, val = registry.load('camvid', camvid_real)
    assert (len(train), len(val)) == (367, 101)
    assert train.num_classes == 11
    seen = set()
    for _, label_path in train.pairs[::40]:
        seen |= set(np.unique(train.read_label(label_path)).tolist())
    assert seen <= set(range(11)) | {arrays.IGNORE}
    assert camvid.CAMVID_ROAD in seen and arrays.IGNORE in seen
    _, road = registry.load('camvid_road', camvid_real)
    label_path = road.pairs[0][1]
    binary = road.read_label(label_path)
    multi = val.read_label(label_path)
    assert set(np.unique(binary).tolist()) <= {0, 1, arrays.IGNORE}
    np.testing.assert_array_equal(binary == 1, multi == camvid.CAMVID_ROAD)
    np.testing.assert_array_equal(binary == arrays.IGNORE, multi == arrays.IGNORE)


def test_kitti_real_files_load_with_black_pixels_ignored(kitti_real):
    with pytest.warns(UserWarning, match='9 of the 11 images .* have no road mask'):
        ds = kitti_road.kitti_dataset(os.path.join(kitti_real, 'data_road'))
    assert len(ds) == 2
    label = ds.read_label(ds.pairs[0][1])
    assert set(np.unique(label).tolist()) == {0, 1, arrays.IGNORE}


def test_mask_names_for_png_and_jpeg_images():
    assert kitti_road.kitti_road_mask_name('um_000000.png') == 'um_road_000000.png'
    assert kitti_road.kitti_road_mask_name('0001TP_006690.jpg') == '0001TP_road_006690.png'
    assert kitti_road.kitti_road_mask_name('0006R0_f01890.JPEG') == '0006R0_road_f01890.png'


def test_val_list_holds_out_exactly_the_named_images(tmp_path):
    root = make_kitti(str(tmp_path), n_train=5, n_test=1)
    with open(os.path.join(root, 'data_road', datasets.VAL_LIST), 'w') as f:
        f.write('um_000001.png\n\num_000003.png\n')
    train, val = registry.load('kitti', root, val_fraction=0.5)      # the list wins over the fraction
    assert [os.path.basename(i) for i, _ in val.pairs] == ['um_000001.png', 'um_000003.png']
    assert [os.path.basename(i) for i, _ in train.pairs] == ['um_000000.png', 'um_000002.png', 'um_000004.png']
    with open(os.path.join(root, 'data_road', datasets.VAL_LIST), 'a') as f:
        f.write('um_000099.png\n')
    with pytest.raises(arrays.DataError, match=r'val_images\.txt: names images .* um_000099\.png'):
        registry.load('kitti', root)


def test_embedded_sample_is_kitti_and_held_out_by_category():
    import main
    train, val = registry.load('kitti', main.SAMPLE_DIR)
    category = lambda ds: {os.path.basename(i).split('_')[0] for i, _ in ds.pairs}  # noqa: E731
    assert category(train) == {'um', 'umm'} and category(val) == {'uu'}   # no drive in both
    assert len(train) >= 40 and len(val) >= 10
    for _, label_path in train.pairs[::10] + val.pairs[::5]:
        label = train.read_label(label_path)
        assert 0.05 < (label == 1).mean() < 0.7          # every frame shows road, and more than road
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(main.SAMPLE_DIR) for f in fs)
    assert size < 8 * 2 ** 20


def make_cityscapes(root, split='train', cities=('aachen', 'bonn'), shape=(16, 32)):
    """Cityscapes layout with labelIds covering road (7), car (26), an ignored id (0) and terrain (22)."""
    for c, city in enumerate(cities):
        stem = '%s_%06d_000019' % (city, c)
        write_png(os.path.join(root, 'cityscapes', 'leftImg8bit', split, city, stem + '_leftImg8bit.png'),
                  np.full(shape + (3,), 40 * c, np.uint8))
        ids = np.zeros(shape, np.uint8)
        ids[8:] = 7
        ids[8:, :4] = 26
        ids[:4] = 22
        write_png(os.path.join(root, 'cityscapes', 'gtFine', split, city, stem + '_gtFine_labelIds.png'), ids)
    return root


def test_cityscapes_label_ids_become_the_19_train_ids(tmp_path):
    make_cityscapes(str(tmp_path), 'train')
    make_cityscapes(str(tmp_path), 'val', cities=('frankfurt',))
    train, val = registry.load('cityscapes', str(tmp_path))
    assert (len(train), len(val), train.num_classes) == (2, 1, 19)
    label = train.read_label(train.pairs[0][1])
    assert label[10, 10] == cityscapes.CITYSCAPES_CLASSES.index('road') == 0
    assert label[10, 0] == cityscapes.CITYSCAPES_CLASSES.index('car') == 13
    assert label[0, 0] == cityscapes.CITYSCAPES_CLASSES.index('terrain') == 9
    assert label[5, 5] == arrays.IGNORE                           # labelId 0, unlabeled
    assert len(cityscapes.CITYSCAPES_LABEL_IDS) == len(cityscapes.CITYSCAPES_COLOURS) == 19
    os.remove(train.pairs[1][1])
    with pytest.raises(arrays.DataError, match='bonn_000001_000019_leftImg8bit.png: image has no label'):
        registry.load('cityscapes', str(tmp_path))


def make_folder(root, n=4, classes=('background', 'road', 'car'), shape=(8, 12), positive=None):
    """A folder dataset: class 1 in the lower half, class 2 (if any) at its left, the top row ignored."""
    import json
    for i in range(n):
        write_png(os.path.join(root, 'images', 'img%d.jpg' % i), np.full(shape + (3,), 10 * i, np.uint8))
        label = np.zeros(shape, np.uint8)
        label[shape[0] // 2:] = 1
        if len(classes) > 2:
            label[shape[0] // 2:, :2] = 2
        label[0] = arrays.IGNORE
        write_png(os.path.join(root, 'labels', 'img%d.png' % i), label)
    spec = {'names': list(classes), 'colours': [[0, 0, 0], [0, 255, 0], [255, 0, 0]][:len(classes)]}
    if positive:
        spec['positive'] = positive
    with open(os.path.join(root, folders.FOLDER_CLASSES_FILE), 'w') as f:
        json.dump(spec, f)
    return root


def test_a_folder_of_two_classes_is_a_road_task_only_when_classes_json_names_its_positive_class(tmp_path):
    assert registry.load('folder', make_folder(str(tmp_path / 'a'), classes=('sea', 'boat')))[0].positive is None
    train, val = registry.load('folder', make_folder(str(tmp_path / 'b'), classes=('other', 'lane'), positive='lane'))
    assert (train.positive, val.positive) == (datasets.ROAD, datasets.ROAD)
    with pytest.raises(arrays.DataError, match=r'classes\.json: "positive" must name the second of two classes'):
        registry.load('folder', make_folder(str(tmp_path / 'c'), classes=('other', 'lane'), positive='other'))
    with pytest.raises(arrays.DataError, match=r'classes\.json: "positive" must name the second of two classes'):
        registry.load('folder', make_folder(str(tmp_path / 'd'), positive='road'))     # three classes


def test_folder_dataset_reads_indices_names_and_colours(tmp_path):
    root = make_folder(str(tmp_path))
    train, val = registry.load('folder', root, val_fraction=0.25)
    assert (len(train), len(val)) == (3, 1)
    assert train.class_names == ('background', 'road', 'car') and train.colours[2] == (255, 0, 0)
    label = train.read_label(train.pairs[0][1])
    assert label[0, 0] == arrays.IGNORE and label[5, 0] == 2 and label[5, 5] == 1 and label[2, 5] == 0


def test_palette_png_labels_are_read_as_their_palette_indices(tmp_path):
    from PIL import Image
    indices = np.array([[0, 1, 2], [arrays.IGNORE, 1, 0]], np.uint8)
    image = Image.fromarray(indices, 'P')
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 252 + [224, 224, 192]     # VOC's colours
    image.putpalette(palette)
    path = str(tmp_path / 'voc.png')
    image.save(path)
    assert arrays.read_png(path).ndim == 3          # read as colours, it would be refused
    np.testing.assert_array_equal(folders.index_label(path, 3), indices)


def test_folder_dataset_errors_name_the_file(tmp_path):
    root = make_folder(str(tmp_path))
    write_png(os.path.join(root, 'labels', 'img1.png'), np.full((8, 12), 7, np.uint8))
    train, _ = registry.load('folder', root)
    with pytest.raises(arrays.DataError, match=r'img1\.png: class index 7 is out of range 0..2'):
        train.read_label(os.path.join(root, 'labels', 'img1.png'))
    os.remove(os.path.join(root, 'labels', 'img2.png'))
    with pytest.raises(arrays.DataError, match=r'img2\.jpg: image has no label'):
        registry.load('folder', root)
    os.remove(os.path.join(root, folders.FOLDER_CLASSES_FILE))
    with pytest.raises(arrays.DataError, match=r'classes\.json: missing'):
        registry.load('folder', root)


def test_test_split_where_there_is_one(tmp_path):
    root = make_folder(str(tmp_path))
    make_folder(os.path.join(root, 'test'), n=2)
    assert len(registry.load_test('folder', root)) == 2
    with pytest.raises(arrays.DataError, match='kitti has no public test labels'):
        registry.load_test('kitti', root)
    with pytest.raises(arrays.DataError, match=r'camvid/test: no such folder'):
        registry.load_test('camvid', root)


def test_holdout_sequence_splits_camvid_by_sequence(camvid_real):
    train, val = registry.load('camvid_road', camvid_real, holdout_sequence='0001TP')
    assert (len(train), len(val)) == (406, 62)
    assert {camvid.camvid_sequence(i) for i, _ in val.pairs} == {'0001TP'}
    assert '0001TP' not in {camvid.camvid_sequence(i) for i, _ in train.pairs}
    assert val.name == 'camvid_road/0001TP'
    train, val = registry.load('camvid', camvid_real, holdout_sequence='0006R0')
    assert (len(train), len(val), train.num_classes) == (367, 101, 11)
    with pytest.raises(arrays.DataError, match="no sequence '0009XX'"):
        registry.load('camvid', camvid_real, holdout_sequence='0009XX')
    with pytest.raises(arrays.DataError, match=r'needs a dataset whose frames name it \(camvid_road or camvid\), not kitti'):
        registry.load('kitti', camvid_real, holdout_sequence='0001TP')


def test_folder_images_without_masks_train_only_when_allowed(tmp_path):
    root = make_folder(str(tmp_path), n=6)
    for i in (0, 3):
        os.remove(os.path.join(root, 'labels', 'img%d.png' % i))
    with pytest.raises(arrays.DataError, match='img0.jpg: image has no label'):
        registry.load('folder', root, val_fraction=0.25)
    train, val = registry.load('folder', root, val_fraction=0.25, unlabelled_ok=True)
    assert len(val) == 1 and all(label is not None for _, label in val.pairs)
    assert sorted(os.path.basename(i) for i, label in train.pairs if label is None) == ['img0.jpg', 'img3.jpg']
    assert len(train) == 5
    for i in (1, 2, 4, 5):
        os.remove(os.path.join(root, 'labels', 'img%d.png' % i))
    with pytest.raises(arrays.DataError, match='no image has a mask, and validation needs some'):
        registry.load('folder', root, unlabelled_ok=True)


def test_every_dataset_says_what_its_folder_holds_and_one_is_the_tutorials():
    from fcnroad.data import registry
    assert all(spec.holds for spec in registry.DATASETS.values())
    assert [name for name, spec in registry.DATASETS.items() if spec.tutorial] == ['kitti']
