"""Score a trained FCN-8 on a dataset split and print the metrics table.

    python evaluate.py --model runs/<run>/model --data-dir ../shared/data --dataset camvid_road --split val
    python evaluate.py --model runs/<run>/model --data-dir DIR --report report/    # and a report to look at
    python evaluate.py --model exports/road_int8.tflite --data-dir DIR             # an export, in its runtime

The network sees each image at the training height and its own aspect ratio, and the
probabilities are resized back to each label's own resolution before counting, as the
KITTI benchmark scores full-size images.  --model may be a SavedModel folder or its
.onnx, .tflite or OpenVINO .xml export: an export is scored as it will be deployed.
"""
from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import json  # noqa: E402
import os  # noqa: E402

from fcnroad import errors  # noqa: E402
from fcnroad.data import arrays, datasets, registry  # noqa: E402
from fcnroad.evaluation import metrics, scoring  # noqa: E402
from fcnroad.serving import paint, report, runtimes, saved_model  # noqa: E402
from fcnroad.training import options  # noqa: E402

def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=console.Path(), default=saved_model.SHIPPED_MODEL,
                   help='runs/<run>/model folder written by main.py, or its .onnx, .tflite or .xml export (default: the '
                        'shipped road model)')
    p.add_argument('--runtime', choices=runtimes.RUNTIMES,
                   help="default: the model's own (a folder: tensorflow; .onnx: onnx; .tflite: tflite; .xml: openvino)")
    p.add_argument('--data-dir', required=True, type=console.Path('folder'),
                   help='the folder main.py --data-dir was given')
    p.add_argument('--dataset', choices=list(registry.DATASETS), help="default: the model's training dataset")
    p.add_argument('--split', default='val', choices=('train', 'val', 'test'),
                   help="test: CamVid in SegNet's layout (test/, testannot/) or a folder dataset with test/")
    p.add_argument('--val-fraction', type=options.VAL_FRACTION, help="KITTI hold-out share; default: the model's")
    p.add_argument('--holdout-sequence', help="CamVid sequence held out; default: the model's")
    p.add_argument('--output', help='also write the metrics as JSON here')
    p.add_argument('--report', metavar='DIR',
                   help="also write a report there: per_image.csv, the worst images as panels, the precision-recall "
                        "curve (road) or confusion matrix, index.html")
    p.add_argument('--worst', type=console.Range(int, 0), default=report.WORST, metavar='N', help='--report: panels of the N worst images')
    scoring.add_test_time_options(p)
    p.add_argument('--strict', action='store_true',
                   help='stop at the first pair that does not read (default: warn, score the rest, exit 1)')
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        return evaluate(build_parser().parse_args(argv))


def evaluate(args):
    if args.output and os.path.isdir(args.output):
        raise errors.ConfigError('--output %s: is a folder; give the JSON file to write' % args.output)
    if args.report and os.path.exists(args.report) and not os.path.isfile(os.path.join(args.report, report.CSV_NAME)):
        raise errors.ConfigError('--report %s: exists and is not a report of evaluate.py; give a new folder'
                                 % args.report)
    if runtimes.runtime_of(args.model) == 'tensorflow' and args.runtime in (None, 'tensorflow'):
        import tensorflow.compat.v1 as tf
        tf.get_logger().setLevel('ERROR')   # disable_v2_behavior's deprecation notice is noise
        tf.disable_v2_behavior()
        with tf.Graph().as_default(), tf.Session() as sess:
            tensors, run_config = saved_model.load_model(sess, args.model)
            results, dataset, bad, collector = score(args, run_config, lambda dataset, **options: scoring.evaluate(
                sess, tensors, dataset, tuple(run_config['image_shape']), flip=args.flip, scales=tuple(args.scales),
                crf=args.crf, **options))
    else:
        predictor = runtimes.open_predictor(args.model, args.runtime, args.flip, args.scales, args.crf, args.threshold)
        run_config = predictor.run_config
        try:
            results, dataset, bad, collector = score(args, run_config, lambda dataset, **options: dict(
                scoring.score_probabilities(lambda images, shapes: [
                    arrays.resize_probabilities(predictor(image[None])[1][0], shape)
                    for image, shape in zip(images, shapes)], dataset, **options),
                test_time_augmentation={'flip': args.flip, 'scales': list(args.scales)}, crf=args.crf,
                runtime=runtimes.runtime_of(args.model)))
        finally:
            predictor.close()
    results['dataset'] = dataset.name
    print(scoring.format_table(results))
    results['skipped_data'] = [dict(image=p[0], label=p[1], error=m) for p, m in bad]
    if args.output:
        with open(args.output, 'w') as f:
            json.dump(results, f, indent=2)
    if args.report:
        report.write_report(args.report, collector, results, paint.model_colours(run_config), args.model)
        print('Report written to %s (open %s)' % (args.report, os.path.join(args.report, report.PAGE_NAME)))
    if bad:
        raise errors.Skipped('%d pairs scored, %d skipped (unreadable): %s' % (
            len(dataset), len(bad), ', '.join(label or image for (image, label), _ in bad)))
    return results


def score(args, run_config, evaluate_on):
    """(results, dataset, bad pairs, report collector or None): the split read, checked and scored by
    evaluate_on(dataset, on_image=, road=, threshold=)."""
    print(saved_model.describe(run_config))
    dataset_kind = args.dataset or run_config['dataset']
    val_fraction = args.val_fraction if args.val_fraction is not None else \
        run_config['args'].get('val_fraction', 0.0)
    # a DataError ends the command as 'data error: ...' (cli.errors_as_exit)
    if args.split == 'test':
        dataset = registry.load_test(dataset_kind, args.data_dir)
    else:
        holdout = args.holdout_sequence or run_config['args'].get('holdout_sequence') \
            if registry.get(dataset_kind).sequences else None
        train, val = registry.load(dataset_kind, args.data_dir, val_fraction, holdout_sequence=holdout,
                                   unlabelled_ok=args.split == 'val')   # box-only images train only
        dataset = train if args.split == 'train' else val
    (dataset,), bad = datasets.check_all([dataset], not args.strict, 'without --strict they are left out')
    if not len(dataset):
        raise errors.DataError('no pair of %s reads' % dataset.name)
    if dataset.num_classes != run_config['num_classes'] and run_config.get('positive_class') is not None:
        dataset = datasets.as_road(dataset, registry.road_class(dataset_kind, dataset))   # a road model on road
    if dataset.num_classes != run_config['num_classes']:
        raise errors.ConfigError('model has %d classes, dataset %s has %d'
                                 % (run_config['num_classes'], dataset.name, dataset.num_classes))
    if args.threshold != metrics.DECISION and dataset.positive is None:
        raise errors.ConfigError('--threshold %g: decides a road model\'s road; %s has %d classes alike'
                                 % (args.threshold, dataset.name, dataset.num_classes))
    collector = report.ReportCollector(dataset.class_names, args.worst, dataset.positive) if args.report else None
    results = evaluate_on(dataset, on_image=collector, road=collector.road if collector else None,
                          threshold=args.threshold)
    return results, dataset, bad, collector


if __name__ == '__main__':
    main()
