"""Web service benchmark: serve.py under load from localhost clients.

    python -m benchmarks.service --model runs/<run>/model [--image FILE] [--clients 8] [--requests 25]

Starts `serve.py --model MODEL` on a free localhost port, waits for /health, then CLIENTS
threads each send REQUESTS `POST /predict` (the painted PNG back) with the same image (the
first of the run's validation images, or --image), and prints the requests/s over the whole
load, the latency p50 / p95 / max of one request as a client sees it (decode, queue,
network, painting, encoding, HTTP), and the answer's status counts.  Nothing else should run.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402
import collections  # noqa: E402
import concurrent.futures  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_validation_image(model):
    from fcnroad.data import registry
    with open(os.path.join(model, 'run_config.json')) as f:
        config = json.load(f)
    run_args = config['args']
    _, val = registry.load(config['dataset'], run_args['data_dir'], run_args.get('val_fraction', 0.0),
                           holdout_sequence=run_args.get('holdout_sequence'))
    return val.pairs[0][0]


def post(url, data):
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method='POST'), timeout=300) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - start


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True, type=console.Path())
    p.add_argument('--image', type=console.Path('file'), help="default: the run's first validation image")
    p.add_argument('--clients', type=console.Range(int, 1, 64), default=8)
    p.add_argument('--requests', type=console.Range(int, 1), default=25, help='per client')
    return p


def main(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    image = args.image or first_validation_image(args.model)
    with open(image, 'rb') as f:
        data = f.read()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, 'serve.py'), '--model', args.model,
                               '--port', str(port), '--queue', str(max(16, 2 * args.clients))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = 'http://127.0.0.1:%d' % port
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + '/health', timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        post(url + '/predict', data)       # warm-up: the first request plans the network for this size
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            answers = list(pool.map(lambda _: post(url + '/predict', data), range(args.clients * args.requests)))
        seconds = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=60)
    latencies = np.array([t for _, t in answers])
    print('%s, %s, %d cores; %s; %s (%d bytes); %d clients x %d requests' % (
        platform.node(), platform.processor() or platform.machine(), os.cpu_count(), args.model,
        os.path.basename(image), len(data), args.clients, args.requests))
    print('| requests/s | latency p50 (ms) | p95 (ms) | max (ms) | answers |')
    print('|---|---|---|---|---|')
    print('| %.2f | %.0f | %.0f | %.0f | %s |' % (
        len(answers) / seconds, 1000 * np.percentile(latencies, 50), 1000 * np.percentile(latencies, 95),
        1000 * latencies.max(), ', '.join('%d x %d' % (n, s) for s, n in
                                          sorted(collections.Counter(s for s, _ in answers).items()))))


if __name__ == '__main__':
    main()
