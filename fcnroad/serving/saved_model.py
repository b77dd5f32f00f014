"""The saved model: how main.py writes it and how evaluate.py and predict.py read it.

A SavedModel tagged `fcn8` holding the network's weights (no optimizer state)
and `run_config.json` (dataset, training size, classes, colours, settings).
Its serving signature takes a uint8 image batch of any height and width and
returns per-pixel classes and probabilities at the input's size, so plain
TensorFlow 2 (`tf.saved_model.load`, no project code) can use it; the
training-size signature is the network itself, as evaluate.py feeds it.
"""
import json
import os
import shutil

import tensorflow as tf2

from fcnroad import models

tf = tf2.compat.v1

MODEL_TAG = 'fcn8'
SERVING_SIGNATURE = 'serving_default'
TRAINING_SIZE_SIGNATURE = 'training_size'
RUN_CONFIG = 'run_config.json'


def save_model(sess, export_dir, model_variables, tensors, run_config):
    """SavedModel of the trained network in sess (model_variables only) plus its settings.

    tensors: the training graph's image_input, keep_prob and probabilities.
    """
    staging = export_dir + '.training-graph'
    builder = tf.saved_model.Builder(staging)
    builder.add_meta_graph_and_variables(
        sess, [MODEL_TAG], saver=tf.train.Saver(model_variables, sharded=False), clear_devices=True)
    builder.save()
    try:
        _save_serving_model(staging, export_dir, tuple(run_config['image_shape']), run_config['num_classes'])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with open(os.path.join(export_dir, RUN_CONFIG), 'w') as f:
        json.dump(run_config, f, indent=2)


def _save_serving_model(training_model_dir, export_dir, image_shape, num_classes):
    """Re-save a training graph with the resize-in, resize-out serving path in front of it."""
    with tf.Graph().as_default(), tf.Session() as sess:
        with tf.name_scope('serving'):
            images = tf.placeholder(tf.uint8, [None, None, None, 3], name='images')
            resized = tf2.image.resize(tf.cast(images, tf.float32), image_shape, antialias=True)
            image_input = tf.placeholder_with_default(resized, [None, None, None, 3], name='image_input')
            keep_prob = tf.placeholder_with_default(1.0, [], name='keep_prob')
        tf.saved_model.loader.load(sess, [MODEL_TAG], training_model_dir,
                                   input_map={'image_input:0': image_input, 'keep_prob:0': keep_prob})
        probabilities = sess.graph.get_tensor_by_name('probabilities:0')
        with tf.name_scope('serving'):
            full_size = tf2.image.resize(probabilities, tf.shape(images)[1:3], name='probabilities')
            if num_classes == 2:
                classes = tf.cast(full_size[..., 1] > 0.5, tf.uint8, name='classes')
            else:
                classes = tf.cast(tf.argmax(full_size, -1), tf.uint8, name='classes')
        saved = {name for name, _ in tf.train.list_variables(os.path.join(training_model_dir, 'variables',
                                                                          'variables'))}
        variables = [v for v in tf.global_variables() if v.op.name in saved]
        signatures = {
            SERVING_SIGNATURE: tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={'images': images}, outputs={'classes': classes, 'probabilities': full_size}),
            TRAINING_SIZE_SIGNATURE: tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={'image_input': image_input, 'keep_prob': keep_prob},
                outputs={'probabilities': probabilities}),
        }
        builder = tf.saved_model.Builder(export_dir)
        builder.add_meta_graph_and_variables(sess, [MODEL_TAG], signature_def_map=signatures,
                                             saver=tf.train.Saver(variables, sharded=False),
                                             clear_devices=True)
        builder.save()


def describe(run_config):
    """'Model: <family>, trained at HxW' (models saved before there were families are fcn8s)."""
    return 'Model: %s, trained at %s' % (run_config.get('model', models.TUTORIAL_MODEL),
                                         'x'.join(map(str, run_config['image_shape'])))


def load_model(sess, model_dir, with_meta=False):
    """Load a model saved by main.run(); returns (tensors, run_config), and the MetaGraphDef with_meta."""
    config_path = os.path.join(model_dir, RUN_CONFIG)
    if not os.path.isdir(model_dir):
        raise SystemExit('%s: no such model folder' % model_dir)
    if not os.path.isfile(config_path):
        raise SystemExit('%s: not a saved FCN-8 model (no run_config.json)' % model_dir)
    with open(config_path) as f:
        run_config = json.load(f)
    try:
        meta = tf.saved_model.loader.load(sess, [MODEL_TAG], model_dir)
    except (OSError, RuntimeError) as e:
        raise SystemExit('%s: cannot load the saved model (%s)' % (model_dir, e)) from None
    # Models saved before the any-size serving signature had only the training-size one.
    signature = meta.signature_def.get(TRAINING_SIZE_SIGNATURE, meta.signature_def[SERVING_SIGNATURE])
    graph = sess.graph
    tensors = {k: graph.get_tensor_by_name(v.name) for k, v in signature.inputs.items()}
    tensors.update({k: graph.get_tensor_by_name(v.name) for k, v in signature.outputs.items()})
    return (tensors, run_config, meta) if with_meta else (tensors, run_config)
