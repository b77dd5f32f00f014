"""RunConfig: every setting of a training run, its type and its default, in one class.

options.build_parser() makes one flag per field, its default read from here; options.resolve() settles
the settings of a run and returns them as a RunConfig, frozen; old_runs.bring_up_to_date() reads a saved
run's.  The defaults are the source's hyperparameters, except where a measured comparison (BENCHMARKS.md)
showed them diverging: there the stable value is the default and the source's is one flag away.
"""
import dataclasses
import os
import typing

from fcnroad import models
from fcnroad.data import augment, kitti_road, weak
from fcnroad.models import mil, vgg
from fcnroad.training import distribute, precision

Shape = typing.Tuple[int, int]

_AUG = augment.DEFAULTS
_DISTRIBUTE = distribute.DEFAULTS    # the module's name is a field's


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The settings of a training run, settled once, then frozen: a setting that does not exist is an
    AttributeError, and none can be changed."""
    # The data
    dataset: str = 'kitti'
    data_dir: str = './data'
    add_dataset: typing.Optional[typing.List[typing.Tuple[str, str]]] = None    # (name, folder) pairs
    mix: typing.Optional[typing.Tuple[float, ...]] = None
    num_classes: typing.Optional[int] = None        # None: the dataset's
    val_fraction: float = 0.1                       # KITTI images held out for validation (CamVid has its own val)
    holdout_sequence: typing.Optional[str] = None
    strict: bool = False
    skip_bad_data: bool = False
    no_download: bool = False
    kitti_url: str = kitti_road.KITTI_URL
    no_sample: bool = False
    runs_dir: str = './runs'
    verbose: bool = False
    # The network
    model: str = models.TUTORIAL_MODEL              # the network family (models/); fcn8s is the tutorial's
    decoder: str = 'fcn8s'                          # 'tutorial' is the source's decoder exactly as written
    vgg_dir: typing.Optional[str] = None            # None: options.vgg_dir_for(fc_depth)
    vgg_weights_h5: typing.Optional[str] = None
    encoder_weights: typing.Optional[str] = None    # None: the encoder's own (models.ENCODERS), fetched with pip
    init_model: typing.Optional[str] = None
    fc_depth: int = vgg.FC_DEPTH    # fc6/fc7's width; they start fresh (no ImageNet source has them)
    frozen_blocks: int = 0          # VGG16's first conv blocks kept at their ImageNet weights, no backward pass
    keep_prob: float = 0.5          # the source's; 0.75 was better in its trials
    # The optimisation
    recipe: str = 'default'
    image_shape: Shape = (160, 576)     # the source's; KITTI trains at 256x832 (its defaults, registry.DATASETS)
    epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 1e-4         # source: 0.001 (diverges with ImageNet VGG16, BENCHMARKS.md)
    lr_schedule: str = 'constant'       # or 'poly': rate * (1 - step / steps) ** lr_power, DeepLab's decay
    lr_power: float = 0.9
    encoder_lr_scale: float = 0.1       # pretrained conv layers learn at this fraction of the rate
    clip_norm: float = 10.0             # global gradient norm clip; 0 turns it off
    l2: float = 1e-3                    # the source's kernel_regularizer scale, actually added to the loss
    class_balance: str = 'none'
    ohem: float = 0.0                   # hard-pixel mining: the loss over pixels below this true-class probability
    boundary_weight: float = 0.0        # pixels near a class change count 1 + this in the loss
    ema: float = 0.0                    # the weights' moving average's decay per step, validated and saved; 0: off
    mixed_precision: str = precision.DEFAULT_MODE      # auto, on, off (precision.py)
    xla: bool = False
    skip_checks: bool = False
    seed: int = 0
    # Augmentation (augment.py): +7.3 points of road IoU on unseen dusk streets (two seeds, BENCHMARKS.md,
    # Streets never seen); --no-augment for the source's
    augment: bool = True
    aug_flip: float = _AUG['flip']
    aug_scale: typing.Tuple[float, float] = _AUG['scale']
    aug_aspect: float = _AUG['aspect']
    aug_horizon: float = _AUG['horizon']
    aug_brightness: float = _AUG['brightness']
    aug_contrast: float = _AUG['contrast']
    aug_saturation: float = _AUG['saturation']
    aug_gamma: float = _AUG['gamma']
    aug_colour: float = _AUG['colour']
    aug_shadow: float = _AUG['shadow']
    aug_low_light: float = _AUG['low_light']
    aug_low_res: float = _AUG['low_res']
    aug_blur: float = _AUG['blur']
    aug_jpeg: float = _AUG['jpeg']
    # Learning from boxes or image labels (weak.py, models/mil.py)
    supervision: str = 'masks'
    lse_r: float = mil.LSE_R
    boxes_dir: typing.Optional[str] = None
    min_box_pixels: int = weak.DEFAULTS['min_box_pixels']
    recursive_rounds: int = weak.DEFAULTS['recursive_rounds']
    weak_cache: str = os.path.join(os.path.expanduser('~'), '.cache', 'fcn8-road', 'weak')
    # Several GPUs or machines (distribute.py)
    distribute: str = _DISTRIBUTE['distribute']
    lr_scaling: str = _DISTRIBUTE['lr_scaling']
    step_timeout: int = _DISTRIBUTE['step_timeout']
    logical_cpus: int = _DISTRIBUTE['logical_cpus']
    # Long runs: checkpoints, validation, resuming
    resume: typing.Optional[str] = None
    checkpoint_every: int = 1           # epochs between checkpoints (the last epoch always has one)
    checkpoint_minutes: float = 10.0    # at most one per 10 minutes, besides those at validations, the end, a signal
    keep_checkpoints: int = 1           # each is every variable and Adam's slots (3x the model)
    keep_checkpoint: bool = True        # a finished run keeps its last checkpoint, to train it for more --epochs
    eval_every: int = 0                 # epochs between validations during training; 0: only at the end
    keep_best: typing.Optional[str] = None

    def as_dict(self):
        return dataclasses.asdict(self)


def field_names():
    return [field.name for field in dataclasses.fields(RunConfig)]


# The default of each setting, read from RunConfig (function signatures below main.py use them).
DEFAULTS = {field.name: field.default for field in dataclasses.fields(RunConfig)}
