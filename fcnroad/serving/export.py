"""Exports of a saved model for other servers and runtimes.

savedmodel: TensorFlow Serving's layout, <out>/<name>/<version>/, a SavedModel tagged `serve`
with the any-size uint8 signature and the encoded-bytes one (saved_model.BYTES_SIGNATURE).
A model saved before those existed (tag `fcn8`) is rebuilt around its network on the way out.
Each export is written as <version>.partial and renamed when complete.
"""
import json
import os
import shutil

from tensorflow.core.protobuf import saved_model_pb2

from fcnroad.serving import saved_model

FORMATS = ('savedmodel',)


class ExportError(ValueError):
    """A model that cannot be exported, or a target that is taken; the message names it."""


def read_meta_graph(model_dir):
    """The (first) MetaGraphDef of a SavedModel folder."""
    proto = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(model_dir, 'saved_model.pb'), 'rb') as f:
            proto.ParseFromString(f.read())
    except (OSError, ValueError) as e:
        raise ExportError('%s: not a SavedModel folder (%s)' % (model_dir, e)) from None
    return proto.meta_graphs[0]


def next_version(folder):
    """TF Serving serves the highest integer version: one more than the highest there."""
    versions = [int(n) for n in os.listdir(folder) if n.isdigit()] if os.path.isdir(folder) else []
    return max(versions, default=0) + 1


def export_savedmodel(model_dir, out_dir, name=None, version=None):
    """Write model_dir as <out_dir>/<name>/<version>/ (name: the model's family; version: the next); return it."""
    config_path = os.path.join(model_dir, saved_model.RUN_CONFIG)
    if not os.path.isfile(config_path):
        raise ExportError('%s: not a saved FCN-8 model (no %s)' % (model_dir, saved_model.RUN_CONFIG))
    with open(config_path) as f:
        run_config = json.load(f)
    meta = read_meta_graph(model_dir)
    name = name or run_config.get('model', 'fcn8s')
    version = version or next_version(os.path.join(out_dir, name))
    target = os.path.join(out_dir, name, str(version))
    if os.path.exists(target):
        raise ExportError('%s: exists (TF Serving versions are immutable: give another --version)' % target)
    staging = target + '.partial'
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        if saved_model.MODEL_TAG in meta.meta_info_def.tags and saved_model.BYTES_SIGNATURE in meta.signature_def:
            shutil.copytree(model_dir, staging)
        else:
            # Models saved before the training-size signature had only the network's: serving_default.
            network = meta.signature_def.get(saved_model.TRAINING_SIZE_SIGNATURE,
                                             meta.signature_def[saved_model.SERVING_SIGNATURE])
            names = {k: v.name for k, v in list(network.inputs.items()) + list(network.outputs.items())}
            saved_model.write_serving_model(model_dir, list(meta.meta_info_def.tags), names, staging,
                                            tuple(run_config['image_shape']), run_config['num_classes'],
                                            import_scope='network')
            shutil.copy(config_path, os.path.join(staging, saved_model.RUN_CONFIG))
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
