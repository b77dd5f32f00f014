"""Exports of a saved model for other servers and runtimes.

savedmodel: TensorFlow Serving's layout, <out>/<name>/<version>/, a SavedModel tagged `serve`
with the any-size uint8 signature and the encoded-bytes one (saved_model.BYTES_SIGNATURE).
A model saved before those existed (tag `fcn8`) is rebuilt around its network on the way out.
Each export is written as <version>.partial and renamed when complete.

onnx: one .onnx file (tf2onnx, opset ONNX_OPSET) with the serving signature's inputs and
outputs: uint8 images (N, H, W, 3) of any size -> classes and probabilities at that size.
The network sees the images at the training height and their own aspect ratio, as in the
SavedModel (saved_model.network_shape_tensor).  TensorFlow's antialiased resize
(ScaleAndTranslate) has no ONNX op, so the export resizes with the same triangle filter
written as two matrix products, which ONNX has (antialiased_resize); the probabilities go
back up bilinearly, as in TensorFlow.

tflite: the same graph through TensorFlow's TFLite converter (any input size: resize the
interpreter's input tensor), the run's settings in a constant string output (run_config).
tflite with int8: full-integer quantisation of the network alone: uint8 images (N, H, W, 3) as
the network sees them (arrays.network_shape) -> float probabilities at that size; every op
between is int8, its ranges calibrated on training images resized as the predictor resizes
them (arrays.resize_image).  The resizing stays outside, in float (runtimes.TFLitePredictor):
quantised with the network, the any-size resize's coordinate arithmetic ran in int8 (a
distance step of 1.5-4.9 pixels), its filter weights came out wrong and the image reaching
the network was off by about 80 grey levels, so every pixel was painted background.
"""
import json
import os
import shutil

import numpy as np
import tensorflow as tf2

from fcnroad import files
from fcnroad.serving import saved_model

tf = tf2.compat.v1

FORMATS = ('savedmodel', 'onnx', 'tflite', 'openvino')
OPENVINO_RUN_CONFIG = ('fcnroad', 'run_config')     # where an OpenVINO IR keeps the run's settings (rt_info)
ONNX_OPSET = 17
ONNX_OPTIMIZE_MAX_BYTES = 100 * 2 ** 20    # tf2onnx's optimiser on larger graphs: see export_onnx
ONNX_INPUT, ONNX_OUTPUTS = 'images', ('classes', 'probabilities')
TFLITE_RUN_CONFIG = 'run_config'    # TFLite has no metadata the interpreter reads: a constant string output
CALIBRATION_IMAGES = 32             # training images the int8 ranges are calibrated on


class ExportError(ValueError):
    """A model that cannot be exported, or a target that is taken; the message names it."""


def read_meta_graph(model_dir):
    """The (first) MetaGraphDef of a SavedModel folder."""
    try:
        return saved_model.read_saved_model(model_dir).meta_graphs[0]
    except (OSError, ValueError, IndexError) as e:
        raise ExportError('%s: not a SavedModel folder (%s)' % (model_dir, e)) from None


def read_run_config(model_dir):
    """A saved model's run_config.json; a folder without one is not a model of this project."""
    path = os.path.join(model_dir, saved_model.RUN_CONFIG)
    if not os.path.isfile(path):
        raise ExportError('%s: not a saved FCN-8 model (no %s)' % (model_dir, saved_model.RUN_CONFIG))
    with open(path) as f:
        return saved_model.up_to_date(json.load(f))


def free_target(path):
    """path, if nothing is there: an export never overwrites one."""
    if os.path.exists(path):
        raise ExportError('%s: exists' % path)
    return path


def next_version(folder):
    """TF Serving serves the highest integer version: one more than the highest there."""
    versions = [int(n) for n in os.listdir(folder) if n.isdigit()] if os.path.isdir(folder) else []
    return max(versions, default=0) + 1


def export_savedmodel(model_dir, out_dir, name=None, version=None):
    """Write model_dir as <out_dir>/<name>/<version>/ (name: the model's family; version: the next); return it.

    The serving paths are written anew around the model's network (saved_model.write_serving_model), so a model
    saved before today's serving path is exported with it."""
    run_config = read_run_config(model_dir)
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
        saved_model.write_serving_model(model_dir, list(meta.meta_info_def.tags), saved_model.network_tensors(meta),
                                        staging, tuple(run_config['image_shape']),
                                        saved_model.positive_class(run_config), import_scope='network')
        shutil.copy(os.path.join(model_dir, saved_model.RUN_CONFIG), staging)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def triangle_weights(in_size, out_size):
    """(out_size, in_size) weights of TensorFlow's antialiased bilinear resize along one axis.

    scale_and_translate_op.cc's triangle kernel: output pixel x samples the input around
    (x + 0.5) / scale, widened by 1 / scale when shrinking, each row normalised to sum 1.
    """
    in_f, out_f = tf.cast(in_size, tf.float32), tf.cast(out_size, tf.float32)
    scale = out_f / in_f
    width = tf.maximum(1.0 / scale, 1.0)
    centres = (tf.cast(tf.range(out_size), tf.float32) + 0.5) / scale
    sources = tf.cast(tf.range(in_size), tf.float32) + 0.5
    weights = tf.maximum(0.0, 1.0 - tf.abs(sources[None, :] - centres[:, None]) / width)
    return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def antialiased_resize(images, size):
    """tf.image.resize(images, size, antialias=True) from matrix products alone (exportable to ONNX)."""
    rows = triangle_weights(tf.shape(images)[1], size[0])
    columns = triangle_weights(tf.shape(images)[2], size[1])
    return tf.einsum('pw,nowc->nopc', columns, tf.einsum('oh,nhwc->nowc', rows, images))


def frozen_serving_graph(model_dir):
    """(GraphDef with the weights as constants, run_config): the serving path in exportable ops."""
    run_config = read_run_config(model_dir)
    meta = read_meta_graph(model_dir)
    names = saved_model.network_tensors(meta)
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        images = tf.placeholder(tf.uint8, [None, None, None, 3], name=ONNX_INPUT)
        size = saved_model.network_shape_tensor(images, tuple(run_config['image_shape']))
        resized = antialiased_resize(tf.cast(images, tf.float32), (size[0], size[1]))
        tf.saved_model.loader.load(sess, list(meta.meta_info_def.tags), model_dir, import_scope='network',
                                   input_map={names['image_input']: resized, names['keep_prob']: tf.constant(1.0)})
        probabilities = graph.get_tensor_by_name('network/' + names['probabilities'])
        full_size = tf.identity(tf.image.resize_bilinear(probabilities, tf.shape(images)[1:3], half_pixel_centers=True),
                                name='probabilities')
        saved_model.classes_from(full_size, saved_model.positive_class(run_config))
        frozen = tf.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), list(ONNX_OUTPUTS))
    return frozen, run_config


def export_onnx(model_dir, out_path, opset=ONNX_OPSET):
    """Write the model's serving path as an ONNX file at out_path, whole or not at all."""
    from tf2onnx import optimizer, tfonnx      # only the ONNX export needs it
    read_run_config(model_dir)
    free_target(out_path)
    frozen, run_config = frozen_serving_graph(model_dir)
    # tf2onnx.convert.from_graph_def's steps, its optimiser only for small graphs: on FCN-8s' 537 MB
    # of weights it went past 20 GB here (copies of the constants); ONNX Runtime optimises at load anyway.
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(frozen, name='')
        onnx_graph = tfonnx.process_tf_graph(tf_graph=graph, opset=opset, input_names=[ONNX_INPUT + ':0'],
                                             output_names=[n + ':0' for n in ONNX_OUTPUTS])
    if frozen.ByteSize() <= ONNX_OPTIMIZE_MAX_BYTES:
        onnx_graph = optimizer.optimize_graph(onnx_graph)
    proto = onnx_graph.make_model('fcnroad %s' % run_config.get('model', 'fcn8s'))
    # Plain names for ONNX Runtime's users ('images', not TensorFlow's 'images:0').
    renames = {n + ':0': n for n in (ONNX_INPUT,) + ONNX_OUTPUTS}
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.name = renames.get(value.name, value.name)
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    entry = proto.metadata_props.add()
    entry.key, entry.value = saved_model.RUN_CONFIG, json.dumps(run_config)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    files.write_bytes_atomic(out_path, proto.SerializeToString())
    return out_path


def frozen_network_graph(model_dir):
    """(GraphDef, run_config): the network alone, images of any size in (as the network sees them), probabilities
    out."""
    run_config = read_run_config(model_dir)
    meta = read_meta_graph(model_dir)
    names = saved_model.network_tensors(meta)
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        images = tf.placeholder(tf.float32, [None, None, None, 3], name=ONNX_INPUT)
        tf.saved_model.loader.load(sess, list(meta.meta_info_def.tags), model_dir, import_scope='network',
                                   input_map={names['image_input']: images, names['keep_prob']: tf.constant(1.0)})
        tf.identity(graph.get_tensor_by_name('network/' + names['probabilities']), name='probabilities')
        frozen = tf.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), ['probabilities'])
    return channel_reversals_as_gathers(frozen), run_config


def channel_reversals_as_gathers(graph_def):
    """graph_def with each ReverseV2 (the RGB -> BGR of the ImageNet preprocessing) made a Gather of the channels.

    TFLite's int8 REVERSE_V2 copies bytes, but the converter gives its output other quantisation
    parameters than its input's: every pixel reaching the first convolution was read with the
    wrong scale and zero point.  A Gather keeps its input's parameters.
    """
    from tensorflow.core.framework import attr_value_pb2, node_def_pb2
    constants = {node.name: node for node in graph_def.node if node.op == 'Const'}
    out = tf.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    for node in graph_def.node:
        if node.op != 'ReverseV2':
            out.node.add().CopyFrom(node)
            continue
        axis = tf.make_ndarray(constants[node.input[1].split(':')[0]].attr['value'].tensor)
        if axis.tolist() not in ([-1], [3]):
            raise ExportError('%s: a reversal over axis %s, not the channels' % (node.name, axis.tolist()))
        indices, gather_axis = node_def_pb2.NodeDef(), node_def_pb2.NodeDef()
        for const, value in ((indices, [2, 1, 0]), (gather_axis, 3)):
            const.op, const.name = 'Const', '%s/%s' % (node.name, 'channels' if const is indices else 'gather_axis')
            const.attr['dtype'].type = tf.int32.as_datatype_enum
            const.attr['value'].tensor.CopyFrom(tf.make_tensor_proto(value, tf.int32))
            out.node.add().CopyFrom(const)
        gather = out.node.add()
        gather.op, gather.name = 'GatherV2', node.name
        gather.input.extend([node.input[0], indices.name, gather_axis.name])
        gather.attr['Tparams'].CopyFrom(node.attr['T'])
        gather.attr['Tindices'].type = tf.int32.as_datatype_enum
        gather.attr['Taxis'].type = tf.int32.as_datatype_enum
        gather.attr['batch_dims'].CopyFrom(attr_value_pb2.AttrValue(i=0))
    return out


def training_images(run_config, count=CALIBRATION_IMAGES):
    """count image paths spread over the run's own training split, to calibrate on."""
    from fcnroad.data import registry
    args = run_config.get('args', {})
    try:
        train, _ = registry.load(run_config['dataset'], args['data_dir'], args.get('val_fraction', 0.0),
                                 holdout_sequence=args.get('holdout_sequence'))
    except (KeyError, ValueError) as e:
        raise ExportError('--int8 calibrates on the run\'s training images, which cannot be read (%s); give '
                          '--calibration-dir' % e) from None
    return spread([image for image, _ in train.pairs], count)


def calibration_images(folder, count=CALIBRATION_IMAGES):
    """count image paths spread over a folder's images (--calibration-dir)."""
    from fcnroad.data import datasets
    return spread(datasets.list_images(folder), count)


def spread(paths, count):
    """At most count of paths, evenly spaced over them."""
    return paths[::max(1, len(paths) // count)][:count]


def calibration_batches(paths, image_shape):
    """The representative data: each image as the predictor feeds the int8 network (arrays.network_shape)."""
    from fcnroad.data import arrays
    for path in paths:
        image = arrays.read_png(path)
        yield [arrays.resize_image(image, arrays.network_shape(image.shape, image_shape))[None].astype(np.float32)]


def calibration_arrays(paths, image_shape):
    """The calibration images as float arrays (1, h, w, 3), each at the shape the network sees it at."""
    for batch in calibration_batches(paths, image_shape):
        yield batch[0]


def export_openvino(model_dir, out_path, int8=False, calibration=None):
    """Write the network as an OpenVINO IR (out_path, an .xml, and its .bin beside it), float32 or, with int8,
    quantised by NNCF and calibrated on the image paths given (default: the run's training images)."""
    try:
        import openvino as ov
    except ImportError:
        raise ExportError('--format openvino needs openvino (pip install "fcnroad[openvino]")') from None
    if not out_path.lower().endswith('.xml'):
        raise ExportError('%s: an OpenVINO IR is an .xml file (its weights go beside it in a .bin)' % out_path)
    read_run_config(model_dir)
    free_target(out_path)
    free_target(out_path[:-4] + '.bin')
    frozen, run_config = frozen_network_graph(model_dir)
    model = ov.convert_model(frozen)
    check_openvino_ir(model, frozen, tuple(run_config['image_shape']), out_path)
    if int8:
        try:
            import nncf
        except ImportError:
            raise ExportError('--format openvino --int8 needs nncf (pip install "fcnroad[openvino]")') from None
        paths = list(calibration) if calibration is not None else training_images(run_config)
        if not paths:
            raise ExportError('--int8: no calibration images')
        model = nncf.quantize(model, nncf.Dataset(list(calibration_arrays(paths, tuple(run_config['image_shape'])))),
                              subset_size=len(paths))
    model.set_rt_info(json.dumps(run_config), list(OPENVINO_RUN_CONFIG))
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    staging = os.path.join(folder, '.%s.partial.xml' % os.path.basename(out_path)[:-4])
    try:
        ov.save_model(model, staging, compress_to_fp16=False)
        os.replace(staging[:-4] + '.bin', out_path[:-4] + '.bin')
        os.replace(staging, out_path)
    finally:
        for leftover in (staging, staging[:-4] + '.bin'):
            if os.path.exists(leftover):
                os.remove(leftover)
    return out_path


OPENVINO_TOLERANCE = 1e-3     # probabilities: float32 rounding apart, nothing more


def check_openvino_ir(model, frozen, image_shape, out_path):
    """The IR as it will be read back computes the network's probabilities (within OPENVINO_TOLERANCE), or an
    ExportError.  Read back from a saved IR, OpenVINO 2026.4 computes another map for FCN's transposed
    convolutions than the same model converted in memory (and than TensorFlow), so every export is checked."""
    import tempfile
    import openvino as ov
    image = np.random.RandomState(0).uniform(0, 255, (1,) + tuple(image_shape) + (3,)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        tf.import_graph_def(frozen, name='')
        expected = sess.run('probabilities:0', {ONNX_INPUT + ':0': image})
    with tempfile.TemporaryDirectory(prefix='fcn8-openvino-') as folder:
        path = os.path.join(folder, 'network.xml')
        ov.save_model(model, path, compress_to_fp16=False)
        core = ov.Core()
        compiled = core.compile_model(core.read_model(path), 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})
        got = compiled({0: image})[compiled.outputs[0]]
    difference = float(np.abs(got - expected).max())
    if difference > OPENVINO_TOLERANCE:
        raise ExportError('%s: OpenVINO does not compute this network as TensorFlow does (probabilities up to %.3f '
                          'apart; OpenVINO reads transposed convolutions back from an IR otherwise than they were '
                          'converted): export it with --format onnx' % (out_path, difference))


def export_tflite(model_dir, out_path, int8=False, calibration=None):
    """Write a TFLite flatbuffer, whole or not at all: the any-size serving path in float, or with int8 the
    network alone, full-integer, calibrated on the image paths given (default: the run's training images)."""
    read_run_config(model_dir)
    free_target(out_path)
    frozen, run_config = frozen_network_graph(model_dir) if int8 else frozen_serving_graph(model_dir)
    outputs = ('probabilities',) if int8 else ONNX_OUTPUTS
    if int8:
        paths = list(calibration) if calibration is not None else training_images(run_config)
        if not paths:
            raise ExportError('--int8: no calibration images')
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        tf.import_graph_def(frozen, name='')
        settings = tf.identity(tf.constant(json.dumps(run_config)), name=TFLITE_RUN_CONFIG)
        converter = tf.lite.TFLiteConverter.from_session(sess, [graph.get_tensor_by_name(ONNX_INPUT + ':0')],
                                                         [graph.get_tensor_by_name(n + ':0') for n in outputs]
                                                         + [settings])
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: calibration_batches(paths, tuple(run_config['image_shape']))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8      # images as they are read; probabilities stay float
        flatbuffer = converter.convert()
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    files.write_bytes_atomic(out_path, flatbuffer)
    return out_path
