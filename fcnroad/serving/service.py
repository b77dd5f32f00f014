"""A small HTTP service around a predictor: a page to try a model on a photo, and a JSON/PNG API.

Endpoints (build_app):
  GET  /          the page: pick or drop an image, see it painted and its class map beside it,
                  and the model's description (family, training size, classes, held-out scores)
  POST /predict   body: the image's bytes (PNG or JPEG); answers the painted PNG, or with
                  ?format=json {"width", "height", "classes_png_base64", "pixels": {class: count}}
  GET  /health    {"status": "ok", "model": ..., "waiting": n}
Errors are JSON {"error": "one line"} with their status: 400 not an image, 404 unknown path,
405 wrong method, 413 larger than max_bytes, 503 the queue is full; an unexpected failure
is a 500 with one line, never a traceback.  The predictor is used by one thread only
(Dispatcher): requests wait in a bounded queue and run one at a time, so no two share the
session.  The service reads no file a request names: only the bytes sent.

FastAPI on uvicorn rather than the standard library's http.server, which its own
documentation calls unfit for production (basic security checks only).
"""
import asyncio
import base64
import concurrent.futures
import io
import json
import os
import queue
import threading

import imageio.v2 as imageio
import numpy as np

from fcnroad.serving import paint

MAX_BYTES = 20 * 2 ** 20      # a 12-megapixel JPEG is about 5 MB
QUEUE_SIZE = 16
PAGE_FILE = 'page.html'


class Busy(Exception):
    """The queue of waiting requests is full."""


class Dispatcher:
    """One thread runs the predictor; submit() queues an image (bounded) and returns a future."""

    def __init__(self, predictor, queue_size=QUEUE_SIZE):
        self.predictor = predictor
        self.waiting = queue.Queue(queue_size)
        self.thread = threading.Thread(target=self._work, daemon=True, name='predictor')
        self.thread.start()

    def submit(self, image):
        future = concurrent.futures.Future()
        try:
            self.waiting.put_nowait((image, future))
        except queue.Full:
            raise Busy('%d requests are waiting already: try again shortly' % self.waiting.maxsize) from None
        return future

    def _work(self):
        while True:
            item = self.waiting.get()
            if item is None:
                return
            image, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                classes, _ = self.predictor(image[None])
                future.set_result(classes[0])
            except BaseException as e:   # the request gets a 500 with this line; the thread goes on
                future.set_exception(e)

    def close(self):
        self.waiting.put(None)
        self.thread.join(timeout=10)


def decode(data):
    """uint8 (H, W, 3) of PNG or JPEG bytes; ValueError with a line a client can read."""
    if data[:8] != b'\x89PNG\r\n\x1a\n' and data[:3] != b'\xff\xd8\xff':
        raise ValueError('not a PNG or JPEG image (send the file\'s bytes as the request body)')
    try:
        image = np.asarray(imageio.imread(io.BytesIO(data)))
    except Exception as e:  # the decoders raise many types for a broken file
        raise ValueError('cannot decode the image (%s)' % str(e).split('\n')[0]) from None
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise ValueError('not an 8-bit colour or grey image (shape %s, %s)' % (image.shape, image.dtype))
    return np.ascontiguousarray(image[..., :3])


def png_bytes(array):
    """PNG at zlib level 1: a painted KITTI frame encodes in 0.6 of the default level 6's time, 3% larger."""
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(array).save(out, format='PNG', compress_level=1)
    return out.getvalue()


def description(run_config, scores=None):
    """What the page and /health say about the model."""
    info = {'model': run_config.get('model', 'fcn8s'), 'training_size': list(run_config['image_shape']),
            'classes': list(run_config.get('class_names') or ['background', 'road'][:run_config['num_classes']]),
            'dataset': run_config.get('dataset')}
    if scores:
        info['held_out'] = scores
    return info


def build_app(predictor, info, max_bytes=MAX_BYTES, queue_size=QUEUE_SIZE):
    """The FastAPI application; its dispatcher is app.state.dispatcher (close it when done)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from starlette.exceptions import HTTPException

    app = FastAPI(title='fcnroad', docs_url=None, redoc_url=None, openapi_url=None)
    dispatcher = Dispatcher(predictor, queue_size)
    app.state.dispatcher = dispatcher
    palette = predictor.palette
    class_names = info['classes']
    page = _page(info, palette)

    def error(status, message):
        return JSONResponse({'error': message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        messages = {404: '%s: no such path (GET /, POST /predict, GET /health)' % request.url.path,
                    405: '%s %s: method not allowed' % (request.method, request.url.path)}
        return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return error(400, 'bad request: %s' % str(exc).split('\n')[0])

    @app.exception_handler(Exception)
    async def unexpected(request, exc):
        return error(500, 'internal error: %s: %s' % (type(exc).__name__, str(exc).split('\n')[0]))

    @app.get('/', response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page)

    @app.get('/health')
    async def health():
        return {'status': 'ok', 'model': info['model'], 'waiting': dispatcher.waiting.qsize()}

    @app.post('/predict')
    async def predict(request: Request, format: str = 'png'):
        if format not in ('png', 'json'):
            return error(400, 'format=%s: use png (the painted image) or json' % format)
        declared = request.headers.get('content-length')
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            return error(413, 'the image is %s bytes; this service takes at most %d' % (declared, max_bytes))
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                return error(413, 'the image is over %d bytes, the most this service takes' % max_bytes)
        # Decoding and encoding run in worker threads (the image libraries release the GIL), so one
        # request's JPEG and PNG work overlaps another's network; the event loop only routes.
        try:
            image = await asyncio.to_thread(decode, bytes(body))
        except ValueError as e:
            return error(400, str(e))
        try:
            classes = await asyncio.wrap_future(dispatcher.submit(image))
        except Busy as e:
            return error(503, str(e))
        if format == 'json':
            counts = np.bincount(classes.ravel(), minlength=len(class_names))
            encoded = await asyncio.to_thread(png_bytes, classes)
            return JSONResponse({'width': int(classes.shape[1]), 'height': int(classes.shape[0]),
                                 'classes_png_base64': base64.b64encode(encoded).decode(),
                                 'pixels': {name: int(n) for name, n in zip(class_names, counts)}})
        painted = await asyncio.to_thread(lambda: png_bytes(paint.paint(image, classes, palette)))
        return Response(painted, media_type='image/png')

    return app


def _page(info, palette):
    """The page, self-contained: no external scripts, styles or fonts."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), PAGE_FILE)) as f:
        template = f.read()
    colours = {str(k): list(v) for k, v in palette.items()}
    return template.replace('__INFO__', json.dumps(info)).replace('__COLOURS__', json.dumps(colours))
