"""The saved model: how main.py writes it and how evaluate.py and predict.py read it.

A SavedModel tagged `serve` (TF Serving's standard tag; models saved before 2026-12-01 are tagged `fcn8`)
holding the network's weights and `run_config.json` (dataset, size, classes, colours, positive class, settings).
Its signatures:
- serving_default: a uint8 image batch of any height and width -> per-pixel classes and
  probabilities at the input's size, so plain TensorFlow 2 (`tf.saved_model.load`, no
  project code) and TF Serving can use it; the network sees the images at the training height
  and their own aspect ratio (arrays.network_shape), never stretched;
- predict_bytes: encoded images (PNG or JPEG, one size per batch) -> the class maps as PNG
  bytes and the classes; TF Serving's REST API takes them as {"b64": ...};
- training_size: the network itself at the training size, as evaluate.py feeds it.
"""
import json
import os
import shutil

import tensorflow as tf2
from tensorflow.core.protobuf import saved_model_pb2

from fcnroad import errors, models
from fcnroad.data import arrays, datasets
from fcnroad.evaluation import metrics

tf = tf2.compat.v1

MODEL_TAG = tf.saved_model.tag_constants.SERVING      # 'serve'
OLD_MODEL_TAG = 'fcn8'
SERVING_SIGNATURE = 'serving_default'
BYTES_SIGNATURE = 'predict_bytes'
TRAINING_SIZE_SIGNATURE = 'training_size'
RUN_CONFIG = 'run_config.json'
# The road model that ships with the package (its MODEL_CARD.md says how it was trained and scores):
# predict.py, evaluate.py and serve.py use it when no --model is given.
SHIPPED_MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'pretrained', 'road')
# TF Serving's REST API base64-encodes string outputs whose names end in _bytes.
BYTES_INPUT, BYTES_OUTPUT = 'image_bytes', 'classes_png_bytes'
# The network's tensors in a graph main.py trains (what _save_serving_model maps the serving path onto).
NETWORK_TENSORS = {'image_input': 'image_input:0', 'keep_prob': 'keep_prob:0', 'probabilities': 'probabilities:0'}


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
        write_serving_model(staging, [MODEL_TAG], NETWORK_TENSORS, export_dir, tuple(run_config['image_shape']),
                            positive_class(run_config))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with open(os.path.join(export_dir, RUN_CONFIG), 'w') as f:
        json.dump(run_config, f, indent=2)


def _decode(image_bytes):
    return tf.io.decode_image(image_bytes, channels=3, expand_animations=False)


def classes_from(probabilities, positive, threshold=metrics.DECISION, name='classes'):
    """uint8 class maps, metrics.classes_from_probabilities in the graph: the positive class (road) where its
    probability passes the threshold (a number or a tensor); without one, the most probable class."""
    if positive is not None:
        return tf.cast(probabilities[..., positive] > threshold, tf.uint8, name=name)
    return tf.cast(tf.argmax(probabilities, -1), tf.uint8, name=name)


def network_tensors(meta):
    """{image_input, keep_prob, probabilities: tensor name} of a saved model's network (its training_size
    signature; models saved before that signature had only the network's, as serving_default)."""
    signature = meta.signature_def.get(TRAINING_SIZE_SIGNATURE, meta.signature_def[SERVING_SIGNATURE])
    return {k: v.name for k, v in list(signature.inputs.items()) + list(signature.outputs.items())}


def read_saved_model(model_dir):
    """The SavedModel protocol buffer of a model folder (its meta graphs, tags and signatures)."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, 'saved_model.pb'), 'rb') as f:
        proto.ParseFromString(f.read())
    return proto


def network_shape_tensor(images, image_shape):
    """arrays.network_shape in the graph, in the same integer arithmetic: [training height, the width that keeps
    the images' aspect ratio, a multiple of arrays.NETWORK_MULTIPLE] for an image batch (N, H, W, C)."""
    size = tf.shape(images)
    height, width = size[1], size[2]
    trained_height, multiple = image_shape[0], arrays.NETWORK_MULTIPLE
    multiples = (2 * width * trained_height + height * multiple) // (2 * height * multiple)
    return tf.stack([tf.constant(trained_height, tf.int32), tf.maximum(multiples, 1) * multiple], name='network_shape')


def serving_graph(sess, source_dir, source_tags, network, image_shape, positive, import_scope=None):
    """The serving paths around the network of the SavedModel at source_dir, loaded into sess's graph.

    network: the names in that graph of its image_input, keep_prob and probabilities tensors
    (NETWORK_TENSORS for a training graph; a saved model's training_size signature gives its own).
    import_scope: a name scope for the source graph's ops, when they would clash with the serving
    path's (a saved model, whose own serving path is left unused).  Returns the tensors by name:
    image_bytes, images, image_input, keep_prob, network_probabilities, probabilities, threshold, classes,
    classes_png.  threshold: the road decision (metrics.DECISION unless fed; not a signature input).
    """
    prefix = import_scope + '/' if import_scope else ''
    with tf.name_scope('serving'):
        image_bytes = tf.placeholder(tf.string, [None], name=BYTES_INPUT)
        decoded = tf.map_fn(_decode, image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
        # Fed directly (serving_default), the images cut the decoding away.
        images = tf.placeholder_with_default(decoded, [None, None, None, 3], name='images')
        resized = tf2.image.resize(tf.cast(images, tf.float32), network_shape_tensor(images, image_shape),
                                   antialias=True)
        image_input = tf.placeholder_with_default(resized, [None, None, None, 3], name='image_input')
        keep_prob = tf.placeholder_with_default(1.0, [], name='keep_prob')
    tf.saved_model.loader.load(sess, source_tags, source_dir, import_scope=import_scope,
                               input_map={network['image_input']: image_input, network['keep_prob']: keep_prob})
    probabilities = sess.graph.get_tensor_by_name(prefix + network['probabilities'])
    with tf.name_scope('serving'):
        full_size = tf2.image.resize(probabilities, tf.shape(images)[1:3], name='probabilities')
        threshold = tf.placeholder_with_default(metrics.DECISION, [], name='threshold')
        classes = classes_from(full_size, positive, threshold)
        classes_png = tf.map_fn(lambda c: tf.io.encode_png(c[..., None]), classes,
                                fn_output_signature=tf.string, name=BYTES_OUTPUT)
    return {'image_bytes': image_bytes, 'images': images, 'image_input': image_input, 'keep_prob': keep_prob,
            'network_probabilities': probabilities, 'probabilities': full_size, 'threshold': threshold, 'classes': classes,
            'classes_png': classes_png}


def write_serving_model(source_dir, source_tags, network, export_dir, image_shape, positive, import_scope=None):
    """Save the network of the SavedModel at source_dir with the serving paths in front of it (serving_graph).

    positive: the model's positive class (positive_class()), which its class maps threshold.
    """
    prefix = import_scope + '/' if import_scope else ''
    with tf.Graph().as_default(), tf.Session() as sess:
        t = serving_graph(sess, source_dir, source_tags, network, image_shape, positive, import_scope)
        saved = {name for name, _ in tf.train.list_variables(os.path.join(source_dir, 'variables', 'variables'))}
        variables = {v.op.name[len(prefix):]: v for v in tf.global_variables()
                     if v.op.name.startswith(prefix) and v.op.name[len(prefix):] in saved}
        signatures = {
            SERVING_SIGNATURE: tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={'images': t['images']}, outputs={'classes': t['classes'], 'probabilities': t['probabilities']}),
            BYTES_SIGNATURE: tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={BYTES_INPUT: t['image_bytes']}, outputs={BYTES_OUTPUT: t['classes_png'], 'classes': t['classes']}),
            TRAINING_SIZE_SIGNATURE: tf.saved_model.signature_def_utils.predict_signature_def(
                inputs={'image_input': t['image_input'], 'keep_prob': t['keep_prob']},
                outputs={'probabilities': t['network_probabilities']}),
        }
        builder = tf.saved_model.Builder(export_dir)
        # The variables keep their training names (a saver keyed by them), so checkpoints read across.
        builder.add_meta_graph_and_variables(sess, [MODEL_TAG], signature_def_map=signatures,
                                             saver=tf.train.Saver(variables, sharded=False),
                                             clear_devices=True)
        builder.save()


def describe(run_config):
    """'Model: <family>, trained at HxW' (models saved before there were families are fcn8s)."""
    return 'Model: %s, trained at %s' % (run_config.get('model', models.TUTORIAL_MODEL),
                                         'x'.join(map(str, run_config['image_shape'])))


def positive_class(run_config):
    """The class a model's two-class task is about (road), or None.  The one place that decides it: the
    run records its dataset's; a model saved before it did was a road model when it had two classes."""
    if 'positive_class' in run_config:
        return run_config['positive_class']
    return datasets.ROAD if run_config['num_classes'] == 2 else None


def up_to_date(run_config):
    """A model's run_config.json with what models saved since record (its positive class)."""
    return dict(run_config, positive_class=positive_class(run_config))


def read_run_config(model_dir):
    """A saved model's run_config.json, up to date (up_to_date); a folder without one is not a model of main.py."""
    config_path = os.path.join(model_dir, RUN_CONFIG)
    if not os.path.isdir(model_dir):
        raise errors.ModelError('%s: no such model folder' % model_dir)
    if not os.path.isfile(config_path):
        raise errors.ModelError('%s: not a saved FCN-8 model (no run_config.json)' % model_dir)
    with open(config_path) as f:
        return up_to_date(json.load(f))


def load_model(sess, model_dir, with_meta=False):
    """Load a model saved by main.run(); returns (tensors, run_config), and the MetaGraphDef with_meta."""
    run_config = read_run_config(model_dir)
    try:
        meta = tf.saved_model.loader.load(sess, [model_tag(model_dir)], model_dir)
    except (OSError, RuntimeError, ValueError) as e:
        raise errors.ModelError('%s: cannot load the saved model (%s)' % (model_dir, e)) from None
    # Models saved before the any-size serving signature had only the training-size one.
    signature = meta.signature_def.get(TRAINING_SIZE_SIGNATURE, meta.signature_def[SERVING_SIGNATURE])
    graph = sess.graph
    tensors = {k: graph.get_tensor_by_name(v.name) for k, v in signature.inputs.items()}
    tensors.update({k: graph.get_tensor_by_name(v.name) for k, v in signature.outputs.items()})
    return (tensors, run_config, meta) if with_meta else (tensors, run_config)


def load_serving(sess, model_dir):
    """A saved model's network with today's serving path around it (serving_graph), whatever serving path it was
    saved with: (serving_graph's tensors, run_config).  Models saved before the aspect ratio was kept had a
    serving_default that stretched every image to the training size; their network takes any size."""
    run_config = read_run_config(model_dir)
    tag = model_tag(model_dir)
    meta = next((m for m in read_saved_model(model_dir).meta_graphs if tag in m.meta_info_def.tags), None)
    if meta is None:
        raise errors.ModelError('%s: no meta graph tagged %s' % (model_dir, tag))
    try:
        tensors = serving_graph(sess, model_dir, [tag], network_tensors(meta), tuple(run_config['image_shape']),
                                positive_class(run_config), import_scope='network')
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        raise errors.ModelError('%s: cannot load the saved model (%s)' % (model_dir, e)) from None
    return tensors, run_config


def model_tag(model_dir):
    """The tag a saved model was saved under: 'serve', or 'fcn8' for models saved before 2026-12-01."""
    try:
        proto = read_saved_model(model_dir)
    except (OSError, ValueError) as e:
        raise errors.ModelError('%s: cannot read the saved model (%s)' % (model_dir, e)) from None
    tags = {tag for meta in proto.meta_graphs for tag in meta.meta_info_def.tags}
    return MODEL_TAG if MODEL_TAG in tags or OLD_MODEL_TAG not in tags else OLD_MODEL_TAG
