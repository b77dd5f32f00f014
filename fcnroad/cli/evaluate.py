"""Score a trained FCN-8 on a dataset split and print the metrics table.

    python evaluate.py --model runs/<run>/model --data-dir ../shared/data --dataset camvid_road --split val
    python evaluate.py --model runs/<run>/model --data-dir DIR --report report/    # and a report to look at

Predictions are made at the training resolution, and the probabilities are
resized back to each label's own resolution before counting, as the KITTI
benchmark scores full-size images.
"""
from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import json  # noqa: E402
import os  # noqa: E402

from fcnroad.data import datasets  # noqa: E402
from fcnroad.evaluation import scoring  # noqa: E402
from fcnroad.serving import paint, report, saved_model  # noqa: E402

def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=console.Path('folder'), default=saved_model.SHIPPED_MODEL,
                   help='runs/<run>/model folder written by main.py (default: the shipped KITTI road model)')
    p.add_argument('--data-dir', required=True, type=console.Path('folder'),
                   help='the folder main.py --data-dir was given')
    p.add_argument('--dataset', choices=list(datasets.DATASETS), help="default: the model's training dataset")
    p.add_argument('--split', default='val', choices=('train', 'val', 'test'),
                   help="test: CamVid in SegNet's layout (test/, testannot/) or a folder dataset with test/")
    p.add_argument('--val-fraction', type=console.Range(float, 0, 1, high_open=True), help="KITTI hold-out share; default: the model's")
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
    import tensorflow.compat.v1 as tf
    tf.get_logger().setLevel('ERROR')   # disable_v2_behavior's deprecation notice is noise
    tf.disable_v2_behavior()
    if args.output and os.path.isdir(args.output):
        raise SystemExit('--output %s: is a folder; give the JSON file to write' % args.output)
    if args.report and os.path.exists(args.report) and not os.path.isfile(os.path.join(args.report, report.CSV_NAME)):
        raise SystemExit('--report %s: exists and is not a report of evaluate.py; give a new folder' % args.report)
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors, run_config = saved_model.load_model(sess, args.model)
        print(saved_model.describe(run_config))
        dataset_kind = args.dataset or run_config['dataset']
        val_fraction = args.val_fraction if args.val_fraction is not None else \
            run_config['args'].get('val_fraction', 0.0)
        # a DataError ends the command as 'data error: ...' (cli.errors_as_exit)
        if args.split == 'test':
            dataset = datasets.load_test(dataset_kind, args.data_dir)
        else:
            holdout = args.holdout_sequence or run_config['args'].get('holdout_sequence') \
                if datasets.get(dataset_kind).sequences else None
            train, val = datasets.load(dataset_kind, args.data_dir, val_fraction, holdout_sequence=holdout,
                                       unlabelled_ok=args.split == 'val')   # box-only images train only
            dataset = train if args.split == 'train' else val
        (dataset,), bad = datasets.check_all([dataset], not args.strict, 'without --strict they are left out')
        if not len(dataset):
            raise SystemExit('data error: no pair of %s reads' % dataset.name)
        if dataset.num_classes != run_config['num_classes']:
            raise SystemExit('model has %d classes, dataset %s has %d'
                             % (run_config['num_classes'], dataset.name, dataset.num_classes))
        collector = report.ReportCollector(dataset.class_names, args.worst, dataset.positive) if args.report else None
        results = scoring.evaluate(sess, tensors, dataset, tuple(run_config['image_shape']), flip=args.flip,
                                   scales=tuple(args.scales), crf=args.crf, on_image=collector,
                                   road=collector.road if collector else None)
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
        raise SystemExit('%d pairs scored, %d skipped (unreadable): %s' % (
            len(dataset), len(bad), ', '.join(label or image for (image, label), _ in bad)))
    return results


if __name__ == '__main__':
    main()
