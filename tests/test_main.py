import json
import os
import re
import zipfile

import imageio.v2 as imageio
import numpy as np
import pytest

from fcnroad import errors
from fcnroad.data import arrays, datasets, kitti_road, registry
import evaluate
from fcnroad.evaluation import scoring
from fcnroad.serving import saved_model
from fcnroad.serving.predictor import Predictor
import helper
import main
from fcnroad.training import loop, weak_rounds
from fcnroad.training import options
from conftest import TINY_SHAPE, make_kitti, refused_url, run_tiny, write_png

tf = main.tf


def test_run_trains_saves_evaluates_and_paints(trained_run):
    kitti, run_dir = trained_run
    assert sorted(os.listdir(run_dir)) == ['checkpoints', 'curves.png', 'metrics.json', 'model', 'run_args.json',
                                           'tensorboard', 'um_000008.png', 'um_000009.png', 'um_000010.png']
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        results = json.load(f)
    losses = results['epoch_mean_loss']
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0], losses
    assert results['images'] == 2 and results['train_images'] == 6
    assert results['road']['iou'] > 0.9   # sky above, asphalt below: easy


def test_saved_samples_are_green_exactly_where_the_reloaded_model_predicts_road(trained_run):
    kitti, run_dir = trained_run
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, config = saved_model.load_model(sess, os.path.join(run_dir, 'model'))
        for name in ('um_000008.png', 'um_000009.png', 'um_000010.png'):
            image = arrays.read_png(os.path.join(kitti, 'data_road', 'testing', 'image_2', name))
            image = arrays.resize_image(image, tuple(config['image_shape']))
            probs = scoring.predict(sess, tensors, image[None].astype(np.float32))[0]
            road = probs[..., 1] > 0.5
            assert 0 < road.mean() < 1
            np.testing.assert_array_equal(imageio.imread(os.path.join(run_dir, name)),
                                          helper.paint(image, road.astype(np.uint8), {1: helper.ROAD_GREEN}))


def test_evaluation_command_reproduces_metrics(trained_run):
    kitti, run_dir = trained_run
    again = evaluate.main(['--model', os.path.join(run_dir, 'model'), '--data-dir', kitti])
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        saved = json.load(f)
    assert again['confusion_matrix'] == saved['confusion_matrix']
    assert again['kitti'] == pytest.approx(saved['kitti'])


def test_run_on_real_kitti_files(kitti_real, tiny_vgg, tmp_path, capsys):
    run_dir = main.run(['--data-dir', kitti_real, '--vgg-dir', tiny_vgg, '--runs-dir', str(tmp_path),
                        '--image-shape', '64', '192', '--epochs', '1', '--batch-size', '2'])
    out, err = capsys.readouterr()
    # The checks say they are checks; their train_nn check's epoch line is not shown as training.
    assert "The tutorial's checks of load_vgg" in out and out.count('Tests Passed') == 5
    assert 'mean loss 10.1100' not in out
    assert re.search(r'[\r\n]WARNING: .*data_road is not the full KITTI Road set: ', '\n' + err), err
    samples = sorted(f for f in os.listdir(run_dir) if f.endswith('.png') and f != 'curves.png')
    tests_dir = os.path.join(kitti_real, 'data_road', 'testing', 'image_2')
    assert samples == sorted(os.listdir(tests_dir))     # 1224..1242 wide alike
    for name in samples:                                # painted at their own size, not 64x192
        assert imageio.imread(os.path.join(run_dir, name)).shape == \
            imageio.imread(os.path.join(tests_dir, name)).shape


def test_missing_data_folder_is_a_clear_error(tmp_path, tiny_vgg):
    with pytest.raises(SystemExit, match='--data-dir: .*nowhere: no such folder'):
        main.run(['--data-dir', str(tmp_path / 'nowhere'), '--vgg-dir', tiny_vgg, '--skip-checks'])


def test_data_dir_without_kitti_says_where_to_extract_it(tmp_path, tiny_vgg):
    with pytest.raises(SystemExit, match=r'Kitti dataset not found. Extract Kitti dataset in .*data_road '
                                         r'\(--no-download; the archive is http'):
        main.run(['--data-dir', str(tmp_path), '--vgg-dir', tiny_vgg, '--runs-dir', str(tmp_path / 'runs'),
                  '--no-download', '--no-sample'])
    assert not os.path.exists(tmp_path / 'runs')


def test_an_installed_copy_without_the_sample_says_so_instead_of_training(tmp_path, tiny_vgg, monkeypatch):
    monkeypatch.setattr(main, 'SAMPLE_DIR', str(tmp_path / 'site-packages' / 'sample'))    # no sample/ beside main
    with pytest.raises(SystemExit, match='embedded sample ships with the repository, not with an installed copy'):
        main.run(['--data-dir', str(tmp_path), '--vgg-dir', tiny_vgg, '--runs-dir', str(tmp_path / 'runs'),
                  '--no-download'])
    assert not os.path.exists(tmp_path / 'runs')


def test_empty_data_road_is_a_clear_error(tmp_path, tiny_vgg):
    os.makedirs(tmp_path / 'data_road')
    with pytest.raises(SystemExit, match=r'data_road/training/image_2: no such folder'):
        main.run(['--data-dir', str(tmp_path), '--vgg-dir', tiny_vgg, '--skip-checks',
                  '--runs-dir', str(tmp_path / 'runs')])
    assert not os.path.exists(tmp_path / 'runs')


def test_without_kitti_and_no_download_trains_on_the_embedded_sample(tmp_path, tiny_vgg, capsys):
    data_dir = tmp_path / 'data'
    data_dir.mkdir()
    run_dir = main.run(['--data-dir', str(data_dir), '--vgg-dir', tiny_vgg, '--runs-dir', str(tmp_path / 'runs'),
                        '--kitti-url', refused_url(), '--epochs', '1', '--image-shape', '64', '96'])
    out = capsys.readouterr().out
    assert 'download failed' in out and 'Training on the embedded sample' in out and '--batch-size 4' in out
    assert os.listdir(data_dir) == []                      # nothing half-downloaded left
    assert os.listdir(tmp_path / 'runs') == [os.path.basename(run_dir)]
    with open(os.path.join(run_dir, 'model', 'run_config.json')) as f:
        config = json.load(f)
    # Flags given win; the rest are the sample's own settings.
    assert config['args']['epochs'] == 1 and config['image_shape'] == [64, 96]
    assert config['args']['batch_size'] == options.SAMPLE_DEFAULTS['batch_size']
    assert config['data_source'].startswith('embedded sample')
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        results = json.load(f)
    val_list = os.path.join(main.SAMPLE_DIR, 'data_road', datasets.VAL_LIST)
    assert results['images'] == len(open(val_list).read().split())
    test_images = kitti_road.kitti_test_images(os.path.join(main.SAMPLE_DIR, 'data_road'))
    for path in test_images:        # painted at each image's own size, as PNG
        painted = imageio.imread(os.path.join(run_dir, os.path.splitext(os.path.basename(path))[0] + '.png'))
        assert painted.shape == arrays.read_png(path).shape


def test_the_sample_takes_its_own_settings_in_place_of_kittis(tmp_path, capsys):
    args, _ = options.resolve(['--data-dir', str(tmp_path), '--no-download'])
    assert tuple(args.image_shape) == registry.DATASETS['kitti'].defaults['image_shape']     # no fallback asked
    args, explicit = options.resolve(['--data-dir', str(tmp_path), '--no-download'], find_data=main.find_kitti)
    assert args.data_dir == main.SAMPLE_DIR and main.data_source(args).startswith('embedded sample')
    assert tuple(args.image_shape) == options.SAMPLE_DEFAULTS['image_shape'] and 'image_shape' in explicit
    assert '--image-shape %d %d' % options.SAMPLE_DEFAULTS['image_shape'] in capsys.readouterr().out


def test_the_rules_between_settings_hold_for_the_samples_settings_too(tmp_path):
    # 10 rounds need more than 10 epochs: the sample's 10 make the setting wrong, and it is said before any work
    given = ['--data-dir', str(tmp_path), '--no-download', '--supervision', 'boxes-recursive', '--recursive-rounds', '10']
    options.resolve(given)                                  # KITTI's 12 epochs: fine
    with pytest.raises(errors.ConfigError, match=r'--recursive-rounds 10: needs 1 <= R < --epochs \(10\)'):
        options.resolve(given, find_data=main.find_kitti)


def test_the_settings_cannot_change_once_settled(tmp_path):
    import dataclasses
    args, _ = options.resolve(['--data-dir', str(tmp_path)])
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.epochs = 3


def zip_folder(folder, zip_path, arcroot):
    with zipfile.ZipFile(zip_path, 'w') as archive:
        for root, _, files in os.walk(os.path.join(folder, arcroot)):
            for name in files:
                path = os.path.join(root, name)
                archive.write(path, os.path.relpath(path, folder))


def test_kitti_is_downloaded_and_extracted_from_a_working_archive(tmp_path, tiny_vgg):
    source = make_kitti(str(tmp_path / 'source'), n_train=4, n_test=2)
    archive = str(tmp_path / 'data_road.zip')
    zip_folder(source, archive, 'data_road')
    data_dir = tmp_path / 'data'
    data_dir.mkdir()
    run_dir = run_tiny(str(data_dir), tiny_vgg, str(tmp_path / 'runs'), '--epochs', '1', '--skip-checks',
                       '--kitti-url', 'file://' + archive)
    assert os.listdir(data_dir) == ['data_road']
    assert kitti_road.kitti_counts(str(data_dir / 'data_road')) == kitti_road.kitti_counts(
        os.path.join(source, 'data_road'))
    with open(os.path.join(run_dir, 'model', 'run_config.json')) as f:
        assert json.load(f)['data_source'] == 'KITTI Road from %s' % os.path.join(str(data_dir), 'data_road')


@pytest.mark.parametrize('damage', ['flipped bytes', 'truncated', 'no data_road folder'])
def test_bad_archive_leaves_nothing_behind(tmp_path, tiny_vgg, damage):
    source = make_kitti(str(tmp_path / 'source'), n_train=4, n_test=2)
    archive = str(tmp_path / 'data_road.zip')
    zip_folder(source, archive, 'data_road')
    data = bytearray(open(archive, 'rb').read())
    if damage == 'flipped bytes':       # inside the first member's data: its CRC fails
        for i in range(60, 90):
            data[i] ^= 0xFF
    elif damage == 'truncated':
        data = data[:len(data) // 2]
    else:
        os.rename(os.path.join(source, 'data_road'), os.path.join(source, 'other'))
        zip_folder(source, archive, 'other')
        data = open(archive, 'rb').read()
    open(archive, 'wb').write(bytes(data))
    data_dir = tmp_path / 'data'
    data_dir.mkdir()
    with pytest.raises(SystemExit, match='Kitti dataset not found.*download failed: .*data_road.zip'):
        run_tiny(str(data_dir), tiny_vgg, str(tmp_path / 'runs'), '--skip-checks', '--no-sample',
                 '--kitti-url', 'file://' + archive)
    assert os.listdir(data_dir) == []
    assert not os.path.exists(tmp_path / 'runs')


def test_a_bad_mask_stops_the_run_before_training_in_one_line_and_leaves_no_run_folder(tmp_path, tiny_vgg):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=3, n_test=1)
    bad = os.path.join(kitti, 'data_road', 'training', 'gt_image_2', 'um_road_000002.png')
    write_png(bad, np.full(TINY_SHAPE + (3,), 77, np.uint8) * np.uint8([0, 0, 1]))     # no red: not a KITTI mask
    with pytest.raises(SystemExit, match=r'^data error: .*um_road_000002\.png: not a KITTI road mask'):
        run_tiny(kitti, tiny_vgg, str(tmp_path / 'runs'), '--skip-checks', '--val-fraction', '0')
    assert not os.path.exists(tmp_path / 'runs') or os.listdir(tmp_path / 'runs') == []


def test_skip_bad_data_leaves_the_file_out_and_a_folder_without_testing_paints_validation(tmp_path, tiny_vgg,
                                                                                          capsys):
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=6, n_test=0)
    bad = os.path.join(kitti, 'data_road', 'training', 'gt_image_2', 'um_road_000001.png')
    write_png(bad, np.full(TINY_SHAPE, 255, np.uint8))      # greyscale
    run_dir = run_tiny(kitti, tiny_vgg, str(tmp_path / 'runs'), '--skip-checks', '--skip-bad-data',
                       '--epochs', '1')
    out, err = capsys.readouterr()
    assert 'left out: %s: not a KITTI road mask' % bad in err
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        results = json.load(f)
    assert [s['label'] for s in results['skipped_data']] == [bad]
    assert results['train_images'] + results['images'] == 5
    assert 'testing/image_2: no such folder (KITTI test images); the %d validation images are painted instead' \
        % results['images'] \
        in out.replace(os.sep, '/')
    _, val = datasets.split(kitti_road.kitti_dataset(os.path.join(kitti, 'data_road')), 0.25)
    painted = [os.path.basename(image) for image, label in val.pairs if label != bad]
    assert len(painted) == results['images'] and all(os.path.isfile(os.path.join(run_dir, p)) for p in painted)


def test_bad_image_shape_is_refused(tmp_path, tiny_vgg):
    with pytest.raises(SystemExit, match='--image-shape: must be a multiple of 32'):
        main.run(['--data-dir', str(tmp_path), '--image-shape', '100', '576'])


def test_train_nn_stops_on_nan_and_restores_last_good_weights():
    with tf.Graph().as_default(), tf.Session() as sess:
        w = tf.Variable(0.0)
        train_op = tf.assign_add(w, 1.0)
        # Finite for the first epoch's two batches, NaN once w passes 2.
        with tf.control_dependencies([train_op]):
            loss = tf.where(w.read_value() > 2.5, np.nan, 1.0)
        sess.run(tf.global_variables_initializer())
        image, label, keep, lr = (tf.placeholder(tf.float32) for _ in range(4))

        def get_batches_fn(batch_size):
            return [(np.zeros(1), np.zeros(1))] * 2

        with pytest.raises(loop.TrainingDiverged, match='epoch 2 batch 1.*end of epoch 1'):
            main.train_nn(sess, 5, 1, get_batches_fn, train_op, loss, image, label, keep, lr)
        assert sess.run(w) == 2.0


def test_tutorial_decoder_keeps_the_source_shapes():
    with tf.Graph().as_default():
        l3 = tf.placeholder(tf.float32, [None, None, None, 256])
        l4 = tf.placeholder(tf.float32, [None, None, None, 512])
        l7 = tf.placeholder(tf.float32, [None, None, None, 4096])
        out = main.layers(l3, l4, l7, 2, decoder='tutorial')
        g = tf.get_default_graph()
        assert g.get_tensor_by_name('decoder/upscore2/weights:0').shape.as_list() == [4, 4, 512, 2]
        assert g.get_tensor_by_name('decoder/upscore_pool4/weights:0').shape.as_list() == [4, 4, 256, 512]
        assert g.get_tensor_by_name('decoder/upscore8/weights:0').shape.as_list() == [16, 16, 2, 256]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            o = sess.run(out, {l3: np.zeros((1, 4, 8, 256)), l4: np.zeros((1, 2, 4, 512)),
                               l7: np.zeros((1, 1, 2, 4096))})
        assert o.shape == (1, 32, 64, 2)


def test_optimize_ignores_unlabelled_pixels():
    with tf.Graph().as_default(), tf.Session() as sess:
        scores = tf.Variable(np.array([[[[2.0, 0.0], [0.0, 5.0]]]], np.float32))  # 1x1x2 pixels
        label = tf.placeholder(tf.float32, [None, None, None, 2])
        _, _, loss = main.optimize(scores, label, tf.constant(0.1), 2)
        sess.run(tf.global_variables_initializer())
        one = sess.run(loss, {label: [[[[1, 0], [0, 0]]]]})     # second pixel ignored
        want = np.log1p(np.exp(-2.0))
        np.testing.assert_allclose(one, want, rtol=1e-5)


def test_frozen_blocks_take_no_step_and_no_backward_pass(tiny_vgg_pretrained):
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        image_input, keep_prob, layer3, layer4, layer7 = main.load_vgg(sess, tiny_vgg_pretrained)
        label = tf.placeholder(tf.float32, [None, None, None, 2])
        _, train_op, _ = main.optimize(main.layers(layer3, layer4, layer7, 2), label, tf.constant(0.01), 2,
                                       encoder_lr_scale=1.0, frozen_blocks=3)
        loop.initialize_new_variables(sess)
        watched = {name: graph.get_tensor_by_name(name + '/weights:0') for name in ('conv1_1', 'conv3_3', 'conv4_1')}
        before = sess.run(watched)
        rng = np.random.RandomState(0)
        for _ in range(2):      # the decoder's score layers start at zero: the encoder moves from step 2
            sess.run(train_op, {image_input: rng.uniform(0, 255, (2, 64, 96, 3)), keep_prob: 0.5,
                                label: np.eye(2)[rng.randint(0, 2, (2, 64, 96))]})
        after = sess.run(watched)
        backward = [op.type for op in graph.get_operations()
                    if op.name.startswith('gradients/') and not op.name.startswith('gradients/decoder/')]
    np.testing.assert_array_equal(after['conv1_1'], before['conv1_1'])
    np.testing.assert_array_equal(after['conv3_3'], before['conv3_3'])
    assert np.abs(after['conv4_1'] - before['conv4_1']).max() > 0
    # Only conv4_1 .. conv5_3, fc6 and fc7 (8 layers; 15 unfrozen) have backward ops, and only pool4's
    # and pool5's maxima are routed back (5 unfrozen): nothing below conv4 is differentiated.
    assert backward.count('Conv2DBackpropFilter') == 8 and backward.count('Conv2DBackpropInput') == 8
    assert backward.count('MaxPoolGrad') == 2


def test_frozen_blocks_need_a_vgg16_encoder(tmp_path, tiny_vgg_pretrained, tiny_kitti):
    with pytest.raises(SystemExit, match='--frozen-blocks 2: --model fcn_squeezenet has no VGG16 encoder'):
        run_tiny(tiny_kitti, tiny_vgg_pretrained, str(tmp_path / 'runs'), '--model', 'fcn_squeezenet',
                 '--frozen-blocks', '2')
    assert not os.path.exists(str(tmp_path / 'runs'))


def test_class_weights_scale_each_pixels_loss():
    with tf.Graph().as_default(), tf.Session() as sess:
        logits = tf.Variable(tf.zeros([1, 1, 2, 2]))          # uniform: each pixel's loss is log 2
        label = tf.placeholder(tf.float32, [None, None, None, 2])
        lr = tf.placeholder(tf.float32)
        _, _, loss = main.optimize(logits, label, lr, 2, clip_norm=0, class_weights=[1.0, 3.0])
        sess.run(tf.global_variables_initializer())
        value = sess.run(loss, {label: [[[[1, 0], [0, 1]]]]})
    assert value == pytest.approx((1 + 3) * np.log(2) / 2, rel=1e-5)


def test_train_nn_feeds_each_steps_scheduled_rate():
    with tf.Graph().as_default(), tf.Session() as sess:
        lr = tf.placeholder(tf.float32, [])
        total = tf.Variable(0.0)
        train_op = tf.assign_add(total, lr)          # sums the rates it was fed
        image, label, keep = (tf.placeholder(tf.float32) for _ in range(3))
        sess.run(tf.global_variables_initializer())
        schedule = loop.learning_rate_schedule(1.0, 'poly', total_steps=4, power=1.0)
        main.train_nn(sess, 2, 1, lambda b: [(np.zeros(1), np.zeros(1))] * 2, train_op, tf.constant(0.0),
                      image, label, keep, lr, learning_rate_value=schedule)
        assert sess.run(total) == pytest.approx(1.0 + 0.75 + 0.5 + 0.25)


@pytest.mark.parametrize('name', [n for n in main.models.MODELS if n != 'fcn8s'])
def test_every_family_trains_saves_and_is_served_by_predict(name, tmp_path, tiny_vgg_pretrained):
    """--model X: trained by the shared trainer from the tutorial's VGG16 weights (or AlexNet's), saved,
    scored, and the saved model serves predictions at any size; the CRF refines them."""
    from conftest import tiny_alexnet_weights, write_alexnet_ckpt, write_tiny_light_weights
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=8, n_test=2)
    extra = ['--model', name, '--skip-checks']
    if name == 'fcn_alexnet':
        extra += ['--encoder-weights', write_alexnet_ckpt(str(tmp_path / 'alexnet.ckpt'), tiny_alexnet_weights())]
    encoder = main.models.get(name).encoder
    if encoder != 'alexnet' and not main.models.weights_from_vgg_dir(encoder):     # the light encoders' files
        extra += ['--encoder-weights', write_tiny_light_weights(name, str(tmp_path))]
    run_dir = run_tiny(kitti, tiny_vgg_pretrained, str(tmp_path / 'runs'), *extra)
    with open(os.path.join(run_dir, 'model', 'run_config.json')) as f:
        assert json.load(f)['model'] == name
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        results = json.load(f)
    assert results['epoch_mean_loss'][-1] < results['epoch_mean_loss'][0]
    predictor = Predictor(os.path.join(run_dir, 'model'), crf=name == 'deeplab_largefov')
    try:
        classes, probs = predictor(np.random.RandomState(0).randint(0, 255, (1, 50, 70, 3)).astype(np.uint8))
    finally:
        predictor.close()
    assert classes.shape == (1, 50, 70) and probs.shape == (1, 50, 70, 2)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-3)


def test_decoder_flag_belongs_to_fcn8s(tmp_path, tiny_vgg_pretrained, tiny_kitti):
    with pytest.raises(SystemExit, match='--decoder tutorial is a choice of --model fcn8s'):
        run_tiny(tiny_kitti, tiny_vgg_pretrained, str(tmp_path / 'runs'), '--model', 'segnet', '--decoder', 'tutorial')
    assert not os.path.exists(str(tmp_path / 'runs'))


def test_recipe_tutorial_sets_the_sources_settings_under_the_flags_given(tmp_path, tiny_vgg, capsys):
    # a flag given > --recipe > the dataset's defaults > DEFAULTS: the run stops at the check between settings,
    # after all four
    with pytest.raises(SystemExit, match='--image-shape: must be a multiple of 32'):
        main.run(['--data-dir', str(tmp_path), '--recipe', 'tutorial', '--image-shape', '100', '576'])
    capsys.readouterr()
    with pytest.raises(SystemExit, match='--keep-best road_iou needs --eval-every'):
        main.run(['--data-dir', str(tmp_path), '--recipe', 'tutorial', '--dataset', 'camvid',
                  '--epochs', '2', '--keep-best', 'road_iou'])
    out = capsys.readouterr().out
    assert '--recipe tutorial: --image-shape 160 576 --batch-size 16 --learning-rate 0.001' in out
    assert '--epochs' not in out.split('--recipe tutorial:')[1].split('\n')[0]    # given: not the recipe's
    assert '--no-augment' in out and 'camvid: trained with its own settings' not in out


def test_training_from_boxes_and_one_recursive_round_relabels_only_inside_boxes(tmp_path, tiny_vgg):
    from fcnroad.data import weak
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=8, n_test=2)
    # A road that narrows towards the horizon, as in a photo: its box also holds background.
    gt = os.path.join(kitti, 'data_road', 'training', 'gt_image_2')
    for name in os.listdir(gt):
        mask = imageio.imread(os.path.join(gt, name))
        road = np.all(mask == (255, 0, 255), axis=-1)
        rows, cols = np.mgrid[:mask.shape[0], :mask.shape[1]]
        top = rows[road].min()
        mask[road & (np.abs(cols - mask.shape[1] / 2) > (rows - top + 4) * 1.5)] = (255, 0, 0)
        write_png(os.path.join(gt, name), mask)
    cache = str(tmp_path / 'weak')
    run_dir = run_tiny(kitti, tiny_vgg, str(tmp_path / 'runs'), '--supervision', 'boxes-recursive',
                       '--recursive-rounds', '1', '--weak-cache', cache, '--skip-checks')
    boxes_folder = [os.path.join(cache, d) for d in os.listdir(cache)]
    assert len(boxes_folder) == 1 and os.path.isfile(os.path.join(boxes_folder[0], weak.LABELS_COMPLETE))
    round_folder = os.path.join(run_dir, weak_rounds.WEAK_ROUNDS_DIR, 'round-1')
    assert os.path.isfile(os.path.join(round_folder, weak.LABELS_COMPLETE))
    names = sorted(f for f in os.listdir(boxes_folder[0]) if f.endswith('.png'))
    assert names == sorted(f for f in os.listdir(round_folder) if f.endswith('.png')) and len(names) == 6
    changed = 0
    for name in names:
        before = weak.read_label(os.path.join(boxes_folder[0], name))
        after = weak.read_label(os.path.join(round_folder, name))
        assert (after[before == arrays.IGNORE] == arrays.IGNORE).all()   # outside every box: unchanged
        changed += int((after != before).sum())
    assert changed > 0                      # the network's predictions replaced part of the filled boxes
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        assert len(json.load(f)['epoch_mean_loss']) == 6


def test_training_from_crf_box_labels(tmp_path, tiny_vgg, tiny_kitti):
    from fcnroad.data import weak
    cache = str(tmp_path / 'weak')
    run_dir = run_tiny(tiny_kitti, tiny_vgg, str(tmp_path / 'runs'), '--supervision', 'boxes-crf', '--weak-cache',
                       cache, '--skip-checks')
    made = os.listdir(cache)
    assert len(made) == 1 and '-boxes-crf-' in made[0]
    with open(os.path.join(cache, made[0], weak.LABELS_COMPLETE)) as f:
        assert json.load(f)['supervision'] == 'boxes-crf'
    assert os.path.isfile(os.path.join(run_dir, 'metrics.json'))


def test_recursive_rounds_must_fit_the_epochs(tmp_path, tiny_vgg, tiny_kitti):
    with pytest.raises(SystemExit, match='--recursive-rounds 6: needs 1 <= R < --epochs'):
        run_tiny(tiny_kitti, tiny_vgg, str(tmp_path / 'runs'), '--supervision', 'boxes-recursive',
                 '--recursive-rounds', '6')


def test_a_user_with_only_boxes_trains_with_one_flag(tmp_path, tiny_vgg):
    """Training images with box files and no masks; masks only for the images validated on."""
    from test_datasets import make_folder
    root = make_folder(str(tmp_path / 'mine'), n=6, shape=(64, 96))
    boxes = tmp_path / 'mine' / 'boxes'
    boxes.mkdir()
    for i in range(6):
        with open(str(boxes / ('img%d.json' % i)), 'w') as f:
            json.dump({'boxes': [{'class': 'road', 'box': [0, 32, 96, 64]}, {'class': 'car', 'box': [0, 32, 2, 64]}],
                       'background': 'background'}, f)
    for i in range(4):                         # only img4 and img5 keep a mask
        os.remove(str(tmp_path / 'mine' / 'labels' / ('img%d.png' % i)))
    (tmp_path / 'mine' / datasets.VAL_LIST).write_text('img5.jpg\n')
    run_dir = run_tiny(root, tiny_vgg, str(tmp_path / 'runs'), '--dataset', 'folder', '--supervision', 'boxes',
                       '--boxes-dir', str(boxes), '--weak-cache', str(tmp_path / 'weak'), '--skip-checks')
    with open(os.path.join(run_dir, 'metrics.json')) as f:
        results = json.load(f)
    assert results['train_images'] == 5 and results['images'] == 1
    os.remove(str(boxes / 'img2.json'))
    with pytest.raises(SystemExit, match='img2.json: no box file'):
        run_tiny(root, tiny_vgg, str(tmp_path / 'runs2'), '--dataset', 'folder', '--supervision', 'boxes',
                 '--boxes-dir', str(boxes), '--weak-cache', str(tmp_path / 'weak2'), '--skip-checks')
    assert not os.path.exists(str(tmp_path / 'runs2'))
