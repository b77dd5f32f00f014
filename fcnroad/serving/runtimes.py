"""One interface over every runtime a model is exported to: uint8 images in, classes and probabilities out.

tensorflow: a SavedModel folder (predictor.Predictor); onnx: an .onnx file in ONNX Runtime;
tflite: a .tflite file in TensorFlow's TFLite interpreter; openvino: an OpenVINO IR (.xml) in
OpenVINO.  Which runtime a --model needs follows from what it is (a folder, .onnx, .tflite,
.xml); --runtime, when given, must agree.  An export carries the run's settings
(run_config.json: ONNX in its metadata, TFLite as a constant string output, OpenVINO in its
rt_info), so it paints and describes itself as its SavedModel does.
"""
import json
import os
import warnings

import numpy as np

from fcnroad import console, errors
from fcnroad.data import arrays
from fcnroad.evaluation import metrics, scoring
from fcnroad.serving import export, paint, saved_model
from fcnroad.serving.predictor import Predictor, check_threshold

RUNTIMES = ('tensorflow', 'onnx', 'tflite', 'openvino')
EXTENSIONS = {'onnx': '.onnx', 'tflite': '.tflite', 'openvino': '.xml'}
EXPORT_FORMATS = {'tensorflow': 'savedmodel', 'onnx': 'onnx', 'tflite': 'tflite', 'openvino': 'openvino'}


def runtime_of(model):
    """The runtime a model path needs: a folder is a SavedModel, otherwise its extension says."""
    if os.path.isdir(model):
        return 'tensorflow'
    for runtime, extension in EXTENSIONS.items():
        if model.lower().endswith(extension):
            return runtime
    if not os.path.exists(model):
        raise errors.ModelError('--model %s: no such model folder or file' % model)
    raise errors.ModelError('--model %s: neither a SavedModel folder nor an .onnx, .tflite or OpenVINO .xml file'
                            % model)


def open_predictor(model, runtime=None, flip=False, scales=(1.0,), crf=False, threshold=metrics.DECISION):
    """A predictor for model in its runtime (runtime None: the one the path needs); threshold: a road model's
    decision (metrics.DECISION unless --threshold says)."""
    needed = runtime_of(model)
    if runtime is not None and runtime != needed:
        wanted = 'a SavedModel folder' if runtime == 'tensorflow' else 'a %s file' % EXTENSIONS[runtime]
        raise errors.ConfigError('--runtime %s needs %s (export.py --format %s); --model %s is for %s'
                                 % (runtime, wanted, EXPORT_FORMATS[runtime], model, needed))
    if needed == 'tensorflow':
        return Predictor(model, flip, scales, crf, threshold)
    if not os.path.isfile(model):
        raise errors.ModelError('--model %s: no such file' % model)
    if tuple(scales) != (1.0,):
        raise errors.ConfigError('--scales needs the SavedModel (--runtime tensorflow): an export has only the any-size '
                         'path, which resizes every input to the training size')
    return {'onnx': OnnxPredictor, 'tflite': TFLitePredictor, 'openvino': OpenVinoPredictor}[needed](
        model, flip, crf, threshold)


class ExportPredictor:
    """Predictor's interface over an export; subclasses give run() -> (classes, probabilities)."""

    def __init__(self, path, flip, crf, run_config, threshold=metrics.DECISION):
        run_config = saved_model.up_to_date(run_config)
        self.path, self.flip, self.crf, self.run_config = path, flip, crf, run_config
        self.threshold = check_threshold(threshold, run_config)
        self.positive = run_config['positive_class']
        self.palette = paint.model_colours(run_config)

    def __call__(self, images):
        """(classes uint8 (N, H, W), probabilities (N, H, W, C)) for a uint8 batch (N, H, W, 3)."""
        if self.flip:
            probs = scoring.flip_averaged(lambda batch: self.run(batch)[1], images)
        else:
            classes, probs = self.run(images)
            if not self.crf and self.threshold == metrics.DECISION:
                return classes, probs
        if self.crf:
            probs = np.stack(scoring.refine(list(images), list(probs)))
        return metrics.classes_from_probabilities(probs, self.positive, self.threshold), probs

    def close(self):
        pass


class OnnxPredictor(ExportPredictor):
    def __init__(self, path, flip=False, crf=False, threshold=metrics.DECISION):
        try:
            import onnxruntime as ort
        except ImportError:
            raise errors.ModelError('--runtime onnx needs onnxruntime (pip install "fcnroad[export]", or -r requirements.txt)') from None
        try:
            self.session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        except Exception as e:  # onnxruntime raises its own exception types for a broken file
            raise errors.ModelError('%s: cannot load the ONNX model (%s)' % (path, str(e).split('\n')[0])) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if saved_model.RUN_CONFIG not in meta:
            raise errors.ModelError('%s: not an export of this project (no %s in its metadata)' % (path, saved_model.RUN_CONFIG))
        super().__init__(path, flip, crf, json.loads(meta[saved_model.RUN_CONFIG]), threshold)

    def run(self, images):
        classes, probs = self.session.run(list(export.ONNX_OUTPUTS), {export.ONNX_INPUT: images})
        return classes, probs


class TFLitePredictor(ExportPredictor):
    def __init__(self, path, flip=False, crf=False, threshold=metrics.DECISION):
        import tensorflow as tf2
        try:
            # its notice that LiteRT (ai-edge-litert) succeeds it, and XNNPACK's INFO line, every run
            with warnings.catch_warnings(), console.native_stderr_hidden():
                warnings.simplefilter('ignore', UserWarning)
                self.interpreter = tf2.lite.Interpreter(model_path=path, num_threads=os.cpu_count())
                self.interpreter.allocate_tensors()
        except ValueError as e:
            raise errors.ModelError('%s: cannot load the TFLite model (%s)' % (path, str(e).split('\n')[0])) from None
        details = self.interpreter.get_input_details()[0]
        self.input = details['index']
        self.outputs = {d['name']: d['index'] for d in self.interpreter.get_output_details()}
        if export.TFLITE_RUN_CONFIG not in self.outputs or 'probabilities' not in self.outputs:
            raise errors.ModelError('%s: not an export of this project (no %s output; export it again with export.py)'
                             % (path, export.TFLITE_RUN_CONFIG))
        # An int8 export is the network alone: this side resizes, in float, as the serving path does.
        self.network_alone = 'classes' not in self.outputs
        self.input_type, self.input_quantization = details['dtype'], details['quantization']
        self.shape = None
        run_config = json.loads(self.interpreter.get_tensor(self.outputs[export.TFLITE_RUN_CONFIG]).item())
        super().__init__(path, flip, crf, run_config, threshold)

    def run(self, images):
        if self.network_alone:
            return self.run_network(images)
        return self.invoke(images, 'classes', 'probabilities')

    def invoke(self, images, *outputs):
        if self.shape != images.shape:     # resizing re-plans the interpreter: only when the size changes
            self.interpreter.resize_tensor_input(self.input, images.shape)
            self.interpreter.allocate_tensors()
            self.shape = images.shape
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(images))
        self.interpreter.invoke()
        # get_tensor copies: the interpreter's buffers are reused by the next invoke
        return tuple(self.interpreter.get_tensor(self.outputs[name]) for name in outputs)

    def run_network(self, images):
        """An int8 export: the images resized as the network sees them (arrays.network_shape), the probabilities
        back to their own size."""
        scale, zero_point = self.input_quantization
        shape = arrays.network_shape(images.shape[1:3], self.run_config['image_shape'])
        resized = np.stack([arrays.resize_image(image, shape) for image in images]).astype(np.float32)
        if self.input_type == np.uint8 and scale:
            resized = np.clip(np.round(resized / scale + zero_point), 0, 255)
        probs, = self.invoke(resized.astype(self.input_type), 'probabilities')
        probs = np.stack([arrays.resize_probabilities(p, images.shape[1:3]) for p in probs])
        return metrics.classes_from_probabilities(probs, self.positive).astype(np.uint8), probs


class OpenVinoPredictor(ExportPredictor):
    """An OpenVINO IR of the network (export.py --format openvino), compiled once per frame size with the
    frame's resize in front (OpenVINO's preprocessing: uint8 in, Pillow's bilinear filter, as
    arrays.resize_image) and the probabilities' resize back and the decision behind it."""

    def __init__(self, path, flip=False, crf=False, threshold=metrics.DECISION, threads=None):
        try:
            import openvino as ov
        except ImportError:
            raise errors.ModelError('--runtime openvino needs openvino (pip install "fcnroad[openvino]")') from None
        self.ov, self.core = ov, ov.Core()
        try:
            self.model = self.core.read_model(path)
        except RuntimeError as e:
            raise errors.ModelError('%s: cannot load the OpenVINO model (%s)' % (path, str(e).split('\n')[0])) from None
        if not self.model.has_rt_info(list(export.OPENVINO_RUN_CONFIG)):
            raise errors.ModelError('%s: not an export of this project (no run_config in its rt_info)' % path)
        run_config = json.loads(self.model.get_rt_info(list(export.OPENVINO_RUN_CONFIG)).astype(str))
        # float32 where the IR is: OpenVINO's CPU plugin would otherwise run bfloat16 on a CPU with native
        # bfloat16 (AVX512_BF16, AMX), and its maps differ from the other runtimes' (a test holds them together)
        self.config = {'INFERENCE_NUM_THREADS': threads or os.cpu_count(), 'PERFORMANCE_HINT': 'LATENCY',
                       'INFERENCE_PRECISION_HINT': 'f32'}
        self.compiled = {}
        super().__init__(path, flip, crf, run_config, threshold)

    def compile(self, batch_shape):
        """The model compiled for uint8 frames of batch_shape (N, H, W, 3): resize, network, resize back, decide."""
        import openvino.opset13 as ops
        from openvino.preprocess import PrePostProcessor, ResizeAlgorithm
        n, h, w = batch_shape[:3]
        network_h, network_w = arrays.network_shape((h, w), self.run_config['image_shape'])
        model = self.model.clone()
        model.reshape({model.inputs[0]: [n, network_h, network_w, 3]})
        steps = PrePostProcessor(model)
        steps.input().tensor().set_element_type(self.ov.Type.u8).set_shape([n, h, w, 3]).set_layout(
            self.ov.Layout('NHWC'))
        steps.input().model().set_layout(self.ov.Layout('NHWC'))
        steps.input().preprocess().convert_element_type(self.ov.Type.f32).resize(
            ResizeAlgorithm.RESIZE_BILINEAR_PILLOW)
        model = steps.build()
        network = model.get_results()[0].input_value(0)
        network.get_tensor().set_names(set())       # the names go to the new outputs below
        probabilities = ops.interpolate(network, ops.constant(np.array([h, w], np.int64)),
                                        mode='linear', shape_calculation_mode='sizes',
                                        coordinate_transformation_mode='half_pixel',
                                        axes=ops.constant(np.array([1, 2], np.int64)))
        outputs = [probabilities]
        if self.positive is not None:
            road = ops.gather(probabilities, ops.constant(np.array(self.positive, np.int64)), ops.constant(3))
            outputs.insert(0, ops.convert(ops.greater(road, ops.constant(np.float32(metrics.DECISION))), 'u8'))
        else:
            outputs.insert(0, ops.convert(ops.topk(probabilities, 1, 3, 'max', 'none').output(1), 'u8'))
        for output, name in zip(outputs, ('classes', 'probabilities')):
            output.output(0).get_tensor().set_names({name})
        whole = self.ov.Model(outputs, model.get_parameters(), 'fcnroad')
        compiled = self.core.compile_model(whole, 'CPU', self.config)
        return compiled, compiled.create_infer_request()

    def run(self, images):
        key = images.shape
        if key not in self.compiled:
            self.compiled[key] = self.compile(key)
        compiled, request = self.compiled[key]
        results = request.infer({0: np.ascontiguousarray(images)})
        classes, probabilities = results[compiled.outputs[0]], results[compiled.outputs[1]]
        if classes.ndim == 4:
            classes = classes[..., 0]
        return classes.astype(np.uint8), probabilities
