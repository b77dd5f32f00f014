"""Train and score the region-based segmenter (R-CNN / SDS style) on a dataset split.

    python regions.py --data-dir ../shared/data --dataset camvid_road --holdout-sequence 0001TP

Felzenszwalb regions at several scales, frozen ImageNet VGG16 features of each region's box
and foreground, a linear classifier per class, and each pixel labelled by the highest-scoring
region containing it (fcnroad/models/region_cnn.py).  Scored like evaluate.py scores a network;
the run folder (runs/regions-<timestamp>) holds classifier.npz, run_args.json and metrics.json,
and is renamed from .partial only when complete (an interrupted run leaves none).
"""
from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import io  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from fcnroad import errors, files, models  # noqa: E402
from fcnroad.data import datasets, registry  # noqa: E402
from fcnroad.evaluation import scoring  # noqa: E402
from fcnroad.models import region_cnn, vgg, vgg_saved_model  # noqa: E402
from fcnroad.training import options, regions, run_folder  # noqa: E402

CLASSIFIER_FILE = 'classifier.npz'
RUN_PREFIX = 'regions-'


def build_parser():
    d = options.DEFAULTS
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data-dir', default=d['data_dir'], type=console.Path('folder'), help='the folder main.py --data-dir takes')
    p.add_argument('--dataset', default=d['dataset'], choices=list(registry.DATASETS))
    p.add_argument('--holdout-sequence', metavar='SEQ', help='CamVid: score on this sequence, train on the others')
    p.add_argument('--val-fraction', type=options.VAL_FRACTION, default=d['val_fraction'],
                   help='KITTI or folder without a validation list: the share held out')
    p.add_argument('--image-shape', type=options.IMAGE_SIDE, nargs=2, metavar=('H', 'W'),
                   help="the working size regions and features are computed at (default: the dataset's "
                        "training size, registry.DATASETS, else %s)" % ' '.join(map(str, d['image_shape'])))
    p.add_argument('--proposal-scales', type=console.Range(float, 0, low_open=True), nargs='+', default=list(region_cnn.PROPOSAL_SCALES), metavar='K',
                   help="Felzenszwalb's scale of each proposal map (larger: larger regions)")
    p.add_argument('--c', type=console.Range(float, 0, low_open=True), default=region_cnn.CLASSIFIER_C,
                   help="the logistic regression's inverse L2 strength")
    p.add_argument('--max-train-images', type=console.Range(int, 1), metavar='N', help='fit on the first N training images only')
    p.add_argument('--vgg-dir', default=vgg.DEFAULT_DIR, help='the VGG16 SavedModel (built there when absent)')
    p.add_argument('--runs-dir', default=d['runs_dir'])
    p.add_argument('--skip-bad-data', action='store_true', help='leave out pairs that do not read (default: stop)')
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        return fit_and_score(build_parser().parse_args(argv))


def fit_and_score(args):
    import tensorflow.compat.v1 as tf
    tf.get_logger().setLevel('ERROR')
    tf.disable_v2_behavior()
    image_shape = tuple(args.image_shape or registry.get(args.dataset).defaults.get(
        'image_shape', options.DEFAULTS['image_shape']))
    # a DataError ends the command as 'data error: ...' (cli.errors_as_exit)
    train_set, val_set = registry.load(args.dataset, args.data_dir, args.val_fraction,
                                       holdout_sequence=args.holdout_sequence)
    (train_set, val_set), bad = datasets.check_all([train_set, val_set], args.skip_bad_data,
                                                   '--skip-bad-data leaves them out')
    if args.max_train_images:
        train_set = train_set.subset(range(min(args.max_train_images, len(train_set))),
                                     'first-%d' % args.max_train_images)
    if not len(train_set) or not len(val_set):
        raise errors.DataError('%s has %d training and %d validation pairs; both are needed'
                               % (args.dataset, len(train_set), len(val_set)))
    if not vgg.is_complete(args.vgg_dir):
        vgg_saved_model.build(args.vgg_dir)
    try:
        weights = models.pretrained_weights('vgg16', vgg_dir=args.vgg_dir)
    except vgg.WeightsError as e:
        raise errors.ModelError('--vgg-dir %s: %s' % (args.vgg_dir, e))
    print('Regions: Felzenszwalb at scales %s on %dx%d images; features: VGG16 %s over box and region; '
          'training on %s (%d images), scoring on %s (%d images)'
          % (', '.join('%g' % k for k in args.proposal_scales), image_shape[0], image_shape[1],
             ' + '.join(region_cnn.FEATURE_LAYERS), train_set.name, len(train_set), val_set.name, len(val_set)))
    staging, final = run_folder.new_run_folder(args.runs_dir, RUN_PREFIX + time.strftime('%Y%m%d-%H%M%S'))
    run_args = dict(vars(args), image_shape=list(image_shape), model='region_cnn')
    try:    # nothing to resume from: an unfinished run leaves no folder
        files.write_json_atomic(os.path.join(staging, run_folder.RUN_ARGS), run_args)
        try:
            classifier, results = regions.train_and_score(weights, train_set, val_set, image_shape,
                                                          tuple(args.proposal_scales), args.c)
        except ValueError as e:
            raise errors.ModelError('region_cnn: %s' % e)
        results['dataset'] = val_set.name
        results['skipped_data'] = [dict(image=p[0], label=p[1], error=m) for p, m in bad]
        buffer = io.BytesIO()
        np.savez(buffer, **classifier.arrays())
        files.write_bytes_atomic(os.path.join(staging, CLASSIFIER_FILE), buffer.getvalue())
        files.write_json_atomic(os.path.join(staging, run_folder.METRICS), results)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(scoring.format_table(results))
    t, s = results['training'], results['scoring']
    print('  %d training regions from %d images (%.1f per image), fitted in %.1f s; scoring: %.1f regions per image, '
          '%.2f s of proposals and %.2f s of features per image' % (
              t['training_regions'], t['images'], t['regions_per_image'], t['fit_seconds'],
              s['regions_per_image'], s['proposal_seconds_per_image'], s['feature_seconds_per_image']))
    print('Run folder: %s' % final)
    return results


if __name__ == '__main__':
    main()
