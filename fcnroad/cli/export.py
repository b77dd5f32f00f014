"""Export a trained model for TensorFlow Serving, ONNX Runtime, TFLite or OpenVINO.

    python export.py --format savedmodel --model runs/<run>/model --out exports
    python export.py --format onnx --model runs/<run>/model --out exports/road.onnx
    python export.py --format tflite [--int8] --model runs/<run>/model --out exports/road.tflite
    python export.py --format openvino [--int8] --model runs/<run>/model --out exports/road.xml

savedmodel: TF Serving's layout, exports/<name>/<version>/ (name: the model's family, version:
one more than the highest there), tagged `serve`, with the signatures serving_default (a
uint8 image batch of any size -> classes, probabilities) and predict_bytes (PNG or JPEG bytes,
{"b64": ...} in TF Serving's REST API -> classes_png_bytes, classes).  Check it with
`saved_model_cli show --dir exports/<name>/<version> --all`.

onnx: one file with the serving_default signature's input and outputs (images uint8 (N, H, W, 3)
of any size -> classes, probabilities), the run's settings in its metadata (run_config.json).

tflite: the same input and outputs (resize the interpreter's input to each image's size).
tflite --int8: full-integer quantisation of the network at its training size (uint8 images of
that size -> float probabilities), calibrated on 32 of the run's training images or on
--calibration-dir; predict.py, evaluate.py and serve.py resize around it.

openvino: the network as an OpenVINO IR (road.xml and road.bin), any frame size; --int8: quantised
by NNCF, calibrated as tflite's; the runtime compiles it per frame size with the resizes inside.
"""
from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

from fcnroad import errors  # noqa: E402
from fcnroad.serving import export  # noqa: E402


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--format', default='savedmodel', choices=export.FORMATS)
    p.add_argument('--model', required=True, type=console.Path('folder'), help='runs/<run>/model folder written by main.py')
    p.add_argument('--out', required=True,
                   help='savedmodel: the model base folder (TF Serving: --model_base_path); onnx: the .onnx file')
    p.add_argument('--name', help="the model's name in the export (default: its family, e.g. fcn8s)")
    p.add_argument('--version', type=console.Range(int, 1), help='default: one more than the highest version in --out/NAME')
    p.add_argument('--int8', action='store_true',
                   help='tflite, openvino: the network quantised to int8, calibrated on training images')
    p.add_argument('--calibration-dir', type=console.Path('folder'),
                   help="--int8: calibrate on this folder's images (default: %d of the run's training images)"
                        % export.CALIBRATION_IMAGES)
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
        if args.int8 and args.format not in ('tflite', 'openvino'):
            raise errors.ConfigError('--int8 belongs to --format tflite or openvino')
        if args.calibration_dir and not args.int8:
            raise errors.ConfigError('--calibration-dir belongs to --int8')
        return write_export(args)


def write_export(args):
    import tensorflow.compat.v1 as tf
    tf.get_logger().setLevel('ERROR')
    tf.disable_v2_behavior()
    try:
        if args.format == 'openvino':
            calibration = export.calibration_images(args.calibration_dir) if args.calibration_dir else None
            target = export.export_openvino(args.model, args.out, args.int8, calibration)
            print('Exported %s to %s and its .bin (%s; input images float NHWC of any size, output probabilities; '
                  'predict.py --model %s compiles it per frame size with the resizes inside)'
                  % (args.model, target, 'int8, NNCF' if args.int8 else 'float32', target))
            return target
        if args.format == 'tflite':
            calibration = export.calibration_images(args.calibration_dir) if args.calibration_dir else None
            target = export.export_tflite(args.model, args.out, args.int8, calibration)
            print('Exported %s to %s (%s)' % (args.model, target, 'int8: uint8 images at the training size in, '
                                              'probabilities out' if args.int8 else
                                              'float32; input images uint8 NHWC, any size: resize the input tensor'))
            return target
        if args.format == 'onnx':
            target = export.export_onnx(args.model, args.out)
            print('Exported %s to %s (opset %d; input images uint8 NHWC, outputs classes, probabilities)'
                  % (args.model, target, export.ONNX_OPSET))
            return target
        target = export.export_savedmodel(args.model, args.out, args.name, args.version)
    except export.ExportError as e:
        raise errors.ModelError(str(e))
    print('Exported %s to %s (tag serve; signatures serving_default, predict_bytes, training_size)'
          % (args.model, target))
    return target


if __name__ == '__main__':
    main()
