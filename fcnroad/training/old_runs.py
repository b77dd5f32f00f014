"""Reading the settings of a run saved by an older version (run_args.json): the one place old runs are read."""
import dataclasses

from fcnroad.models import vgg, vgg_saved_model
from fcnroad.training import precision
from fcnroad.training.run_config import RunConfig

# A run saved before one of its settings existed trained without it: the value it had then, where
# that is not today's default (older runs had no augmentation, no timed checkpoints, a bool precision).
BEFORE_THE_FLAG = {'augment': False, 'checkpoint_minutes': 0.0, 'mixed_precision': 'off',
                   **{'aug_' + name: 0.0 for name in ('aspect', 'horizon', 'colour', 'low_light', 'low_res', 'blur',
                                                      'jpeg')}}
# Settings merged into one: the old name -> today's.
MERGED = {'alexnet_weights': 'encoder_weights', 'light_weights': 'encoder_weights'}


def bring_up_to_date(saved):
    """A saved run's settings as a RunConfig, with every setting added since at the value the run had without
    it, merged settings under today's name and those since removed left out."""
    known = {field.name for field in dataclasses.fields(RunConfig)}
    renamed = {MERGED[k]: v for k, v in saved.items() if k in MERGED and v is not None}
    settings = {**BEFORE_THE_FLAG, **renamed, **{k: v for k, v in saved.items() if k in known}}
    settings['mixed_precision'] = precision.normalise_mode(settings['mixed_precision'])
    for key in ('image_shape', 'aug_scale', 'mix'):
        if settings.get(key) is not None:
            settings[key] = tuple(settings[key])
    if settings.get('add_dataset'):
        settings['add_dataset'] = [tuple(source) for source in settings['add_dataset']]
    vgg_dir = settings.get('vgg_dir')
    if 'fc_depth' not in settings and vgg_dir and vgg.is_complete(vgg_dir):    # its SavedModel's width
        settings['fc_depth'] = vgg_saved_model.fc_depth(vgg_dir) or vgg.FC_DEPTH
    return RunConfig(**settings)
