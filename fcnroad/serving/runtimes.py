"""One interface over every runtime a model is exported to: uint8 images in, classes and probabilities out.

tensorflow: a SavedModel folder (predictor.Predictor); onnx: an .onnx file in ONNX Runtime;
tflite: a .tflite file in TensorFlow's TFLite interpreter.  Which runtime a --model needs
follows from what it is (a folder, .onnx, .tflite); --runtime, when given, must agree.
An export carries the run's settings (run_config.json: ONNX in its metadata, TFLite as
a constant string output), so it paints and describes itself as its SavedModel does.
"""
import json
import os
import warnings

import numpy as np

from fcnroad import console, errors
from fcnroad.data import arrays
from fcnroad.evaluation import metrics, scoring
from fcnroad.serving import export, paint, saved_model
from fcnroad.serving.predictor import Predictor

RUNTIMES = ('tensorflow', 'onnx', 'tflite')
EXTENSIONS = {'onnx': '.onnx', 'tflite': '.tflite'}


def runtime_of(model):
    """The runtime a model path needs: a folder is a SavedModel, otherwise its extension says."""
    if os.path.isdir(model):
        return 'tensorflow'
    for runtime, extension in EXTENSIONS.items():
        if model.lower().endswith(extension):
            return runtime
    if not os.path.exists(model):
        raise errors.ModelError('--model %s: no such model folder or file' % model)
    raise errors.ModelError('--model %s: neither a SavedModel folder nor an .onnx or .tflite file' % model)


def open_predictor(model, runtime=None, flip=False, scales=(1.0,), crf=False):
    """A predictor for model in its runtime (runtime None: the one the path needs)."""
    needed = runtime_of(model)
    if runtime is not None and runtime != needed:
        wanted = 'a SavedModel folder' if runtime == 'tensorflow' else 'a %s file' % EXTENSIONS[runtime]
        raise errors.ConfigError('--runtime %s needs %s (export.py --format %s); --model %s is for %s'
                         % (runtime, wanted, 'savedmodel' if runtime == 'tensorflow' else runtime, model, needed))
    if needed == 'tensorflow':
        return Predictor(model, flip, scales, crf)
    if not os.path.isfile(model):
        raise errors.ModelError('--model %s: no such file' % model)
    if tuple(scales) != (1.0,):
        raise errors.ConfigError('--scales needs the SavedModel (--runtime tensorflow): an export has only the any-size '
                         'path, which resizes every input to the training size')
    return (OnnxPredictor if needed == 'onnx' else TFLitePredictor)(model, flip, crf)


class ExportPredictor:
    """Predictor's interface over an export; subclasses give run() -> (classes, probabilities)."""

    def __init__(self, path, flip, crf, run_config):
        run_config = saved_model.up_to_date(run_config)
        self.path, self.flip, self.crf, self.run_config = path, flip, crf, run_config
        self.positive = run_config['positive_class']
        self.palette = paint.model_colours(run_config)

    def __call__(self, images):
        """(classes uint8 (N, H, W), probabilities (N, H, W, C)) for a uint8 batch (N, H, W, 3)."""
        classes, probs = self.run(images)
        if not self.flip and not self.crf:
            return classes, probs
        if self.flip:     # as evaluate.py's flip: the mirrored image's map mirrored back, averaged
            probs = (probs + self.run(np.ascontiguousarray(images[:, :, ::-1]))[1][:, :, ::-1]) / 2
        if self.crf:
            probs = np.stack(scoring.refine(list(images), list(probs)))
        return metrics.classes_from_probabilities(probs, self.positive), probs

    def close(self):
        pass


class OnnxPredictor(ExportPredictor):
    def __init__(self, path, flip=False, crf=False):
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
        super().__init__(path, flip, crf, json.loads(meta[saved_model.RUN_CONFIG]))

    def run(self, images):
        classes, probs = self.session.run(list(export.ONNX_OUTPUTS), {export.ONNX_INPUT: images})
        return classes, probs


class TFLitePredictor(ExportPredictor):
    def __init__(self, path, flip=False, crf=False):
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
        # An int8 export is the network alone at its training size: this side resizes, in float.
        self.network_size = None if 'classes' in self.outputs else tuple(int(s) for s in details['shape'][1:3])
        self.input_type, self.input_quantization = details['dtype'], details['quantization']
        self.shape = None
        run_config = json.loads(self.interpreter.get_tensor(self.outputs[export.TFLITE_RUN_CONFIG]).item())
        super().__init__(path, flip, crf, run_config)

    def run(self, images):
        if self.network_size is not None:
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
        """An int8 export: each image resized to the training size, its probabilities back to its own size."""
        scale, zero_point = self.input_quantization
        resized = np.stack([arrays.resize_image(image, self.network_size) for image in images]).astype(np.float32)
        if self.input_type == np.uint8 and scale:
            resized = np.clip(np.round(resized / scale + zero_point), 0, 255)
        probs, = self.invoke(resized.astype(self.input_type), 'probabilities')
        probs = np.stack([arrays.resize_probabilities(p, images.shape[1:3]) for p in probs])
        return metrics.classes_from_probabilities(probs, self.positive).astype(np.uint8), probs
