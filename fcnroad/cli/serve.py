"""Serve a trained model over HTTP: a page to try it on a photo, and an API for programs.

    python serve.py --model runs/<run>/model [--port 8080] [--host 127.0.0.1]

GET / is the page; POST /predict takes an image's bytes (PNG or JPEG) and answers the painted
PNG, or with ?format=json the class map (a PNG in base64) and each class's pixel count;
GET /health.  --model may be a SavedModel folder or an .onnx / .tflite export.  It listens
on 127.0.0.1 unless --host says otherwise (0.0.0.0: every interface, so other machines
reach it).  fcnroad/serving/service.py says what each error answers.
"""
from fcnroad import cli, console

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import json  # noqa: E402
import os  # noqa: E402

from fcnroad import errors  # noqa: E402
from fcnroad.evaluation import scoring  # noqa: E402
from fcnroad.serving import runtimes, saved_model, service  # noqa: E402


def held_out_scores(model):
    """The run's own held-out scores, from metrics.json in the model folder (the shipped model's) or beside
    it (runs/<run>/model's); None elsewhere."""
    folder = os.path.abspath(model)
    path = next((p for p in (os.path.join(folder, 'metrics.json'), os.path.join(os.path.dirname(folder), 'metrics.json'))
                 if os.path.isfile(p)), None)
    if path is None:
        return None
    with open(path) as f:
        results = json.load(f)
    scores = {'images': results.get('images'), 'mean IoU': results.get('mean_iou')}
    if 'road' in results:
        scores.update({'road IoU': results['road']['iou'], 'MaxF': results['kitti']['MaxF']})
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items() if v is not None}


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=console.Path(), default=saved_model.SHIPPED_MODEL,
                   help='runs/<run>/model folder written by main.py, or its export (default: the shipped KITTI road '
                        'model)')
    p.add_argument('--runtime', choices=runtimes.RUNTIMES, help="default: the model's own")
    scoring.add_threshold_option(p)
    p.add_argument('--host', default='127.0.0.1', help='the address to listen on (0.0.0.0: every interface)')
    p.add_argument('--port', type=console.Range(int, 1, 65535), default=8080)
    p.add_argument('--max-bytes', type=console.Range(int, 1), default=service.MAX_BYTES, help='the largest image accepted')
    p.add_argument('--queue', type=console.Range(int, 1), default=service.QUEUE_SIZE,
                   help='requests that may wait for the model; one more is answered 503')
    console.add_verbose_flag(p)
    return p


def main(argv=None):
    with cli.errors_as_exit():
        serve(build_parser().parse_args(argv))


def serve(args):
    try:
        import uvicorn
    except ImportError:
        raise errors.ConfigError('serve.py needs fastapi and uvicorn: pip install "fcnroad[serve]", or -r '
                                 'requirements.txt') from None
    predictor = runtimes.open_predictor(args.model, args.runtime, threshold=args.threshold)
    info = service.description(predictor.run_config, held_out_scores(args.model))
    app = service.build_app(predictor, info, args.max_bytes, args.queue)
    print('%s; serving on http://%s:%d/ (POST /predict, GET /health; Ctrl-C stops)'
          % (saved_model.describe(predictor.run_config), args.host, args.port), flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level='info' if args.verbose else 'warning')
    finally:
        app.state.dispatcher.close()
        predictor.close()


if __name__ == '__main__':
    main()
