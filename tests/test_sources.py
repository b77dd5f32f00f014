"""Training on several datasets at once: each as road / not road, a mix per batch, validation per dataset."""
import json
import os

import numpy as np
import pytest

import helper
from conftest import TINY_SHAPE, make_kitti, run_tiny, write_png
from fcnroad import errors
from fcnroad.data import camvid, datasets, folders, kitti_road, registry
from fcnroad.evaluation import scoring
from fcnroad.training import curves, options


def test_a_mix_gives_every_run_of_a_batch_its_share_of_each_source():
    order = helper.mixed_order([10, 50], [1, 1], 40, np.random.RandomState(0))
    small = order < 10
    assert len(order) == 40 and small.sum() == 20
    assert all(small[i:i + 4].sum() == 2 for i in range(0, 40, 4))        # 2 + 2 in each batch of 4
    # the small source goes round twice, each round every one of its images once
    assert sorted(order[small][:10]) == list(range(10)) and sorted(order[small][10:]) == list(range(10))
    assert len(set(order[~small])) == 20 and order[~small].min() >= 10


def test_a_mix_of_three_to_one_and_in_order_without_a_random_state():
    order = helper.mixed_order([8, 8], [3, 1], 16)
    assert (order < 8).sum() == 12
    assert list(order[order < 8]) == list(range(8)) + list(range(4))
    assert list(order[order >= 8]) == list(range(8, 12))


def folder_of_two(root, names=('background', 'road'), road=1, n=4, shape=(48, 64), seed=0):
    """A folder dataset: a grey road below a random horizon, labelled with class `road`."""
    rng = np.random.RandomState(seed)
    for i in range(n):
        horizon = rng.randint(shape[0] // 3, 2 * shape[0] // 3)
        image = np.full(shape + (3,), (90, 160, 230), np.uint8)
        image[horizon:] = 70
        label = np.zeros(shape, np.uint8)
        label[horizon:] = road
        write_png(os.path.join(root, 'images', 'f%d.png' % i), image)
        write_png(os.path.join(root, 'labels', 'f%d.png' % i), label)
    with open(os.path.join(root, folders.FOLDER_CLASSES_FILE), 'w') as f:
        json.dump({'names': list(names)}, f)
    return root


def test_a_dataset_of_several_classes_becomes_road_by_its_road_class(tmp_path):
    folder = folder_of_two(str(tmp_path / 'f'), names=('sky', 'car', 'road'), road=2)
    dataset = folders.folder_dataset(folder)
    road = registry.road_class('folder', dataset)
    assert road == 2
    as_road = datasets.as_road(dataset, road)
    label = as_road.read_label(as_road.pairs[0][1])
    raw = dataset.read_label(dataset.pairs[0][1])
    assert as_road.class_names == datasets.ROAD_CLASSES and as_road.positive == datasets.ROAD
    np.testing.assert_array_equal(label, (raw == 2).astype(np.uint8))
    assert registry.road_class('camvid', dataset) == camvid.CAMVID_ROAD     # the registry's, where it has one


def test_a_folder_without_a_road_class_cannot_join_others(tmp_path):
    folder = folder_of_two(str(tmp_path / 'f'), names=('sky', 'car'), road=1)
    with pytest.raises(errors.DataError, match='no positive class and no class "road"'):
        registry.road_class('folder', folders.folder_dataset(folder))


def test_combined_datasets_read_each_label_with_its_own_reader(tmp_path):
    kitti = kitti_road.kitti_dataset(os.path.join(make_kitti(str(tmp_path / 'k'), n_train=3, n_test=0), 'data_road'))
    folder = folders.folder_dataset(folder_of_two(str(tmp_path / 'f'), n=2))
    both = datasets.combine([kitti, datasets.as_road(folder, 1)])
    assert both.sources == (('kitti_road', 3), ('folder', 2)) and len(both) == 5
    for (image, label), part in zip(both.pairs, [kitti] * 3 + [folder] * 2):
        np.testing.assert_array_equal(both.read_label(label), part.read_label(label))


def test_add_dataset_and_mix_are_checked_before_any_work(tmp_path):
    base = ['--data-dir', str(tmp_path)]
    with pytest.raises(errors.ConfigError, match="--add-dataset.*no dataset 'nosuch'"):
        options.build_parser().parse_args(base + ['--add-dataset', 'nosuch=%s' % tmp_path])
    with pytest.raises(errors.ConfigError, match='--add-dataset.*absent is not a folder'):
        options.build_parser().parse_args(base + ['--add-dataset', 'camvid_road=%s' % (tmp_path / 'absent')])
    with pytest.raises(errors.ConfigError, match='--mix: 3 shares for 2 datasets'):
        options.resolve(base + ['--add-dataset', 'folder=%s' % tmp_path, '--mix', '1', '2', '3'])
    args, explicit = options.resolve(base + ['--add-dataset', 'folder=%s' % tmp_path, '--mix', '3', '1'])
    assert args.add_dataset == [('folder', str(tmp_path))] and 'add_dataset' in explicit


def test_the_mean_of_several_datasets_is_the_headline_and_each_keeps_its_own():
    def result(name, iou, maxf):
        return {'dataset': name, 'images': 2, 'class_names': ['not road', 'road'], 'confusion_matrix': [[1, 0], [0, 1]],
                'seconds': 1.0, 'per_class_iou': [0.9, iou], 'mean_iou': (0.9 + iou) / 2, 'pixel_accuracy': 0.9,
                'class_average_accuracy': 0.9, 'road': {'iou': iou, 'precision': 1.0, 'recall': iou},
                'kitti': {'MaxF': maxf, 'AP': maxf, 'PRE': 1, 'REC': 1, 'FPR': 0, 'FNR': 0, 'threshold': 0.5}}
    combined = scoring.mean_of([result('a/val', 0.8, 0.9), result('b/val', 0.6, 0.7)])
    assert combined['road']['iou'] == pytest.approx(0.7) and combined['kitti']['MaxF'] == pytest.approx(0.8)
    assert combined['confusion_matrix'] == [[2, 0], [0, 2]] and set(combined['sources']) == {'a/val', 'b/val'}
    values = curves.val_metrics(combined)
    assert values['road_iou'] == pytest.approx(0.7) and values['a/val/road_iou'] == pytest.approx(0.8)
    assert 'Mean of the 2 datasets' in scoring.format_table(combined)


def test_a_run_on_two_datasets_validates_on_each_and_reports_their_mean(tmp_path, tiny_vgg):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=6, n_test=2)
    folder = folder_of_two(str(tmp_path / 'mine'), names=('sky', 'road'), road=1, n=6, shape=TINY_SHAPE)
    run_dir = run_tiny(kitti, tiny_vgg, str(tmp_path / 'runs'), '--add-dataset', 'folder=%s' % folder,
                       '--mix', '1', '1', '--epochs', '2', '--eval-every', '1')
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        metrics = json.load(f)
    sources = metrics['sources']
    assert set(sources) == {'kitti_road/val', 'folder/val'}
    assert metrics['road']['iou'] == pytest.approx(np.mean([s['road']['iou'] for s in sources.values()]))
    assert {'kitti_road/val/road_iou', 'folder/val/road_iou'} <= set(metrics['evaluations'][-1])
    with open(os.path.join(run_dir, 'model', 'run_config.json')) as f:
        run_config = json.load(f)
    assert [name for name, _ in run_config['sources']] == ['kitti_road/train', 'folder/train']
    assert sum(size for _, size in run_config['sources']) == metrics['train_images']
    assert run_config['positive_class'] == 1
