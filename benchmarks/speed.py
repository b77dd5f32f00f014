"""Speed benchmark: the machine's own limit, FCN-8 training and inference, feeding, precision.

    python -m benchmarks.speed --vgg-dir data/vgg --mixed-precision

In one run it prints: achieved GFLOP/s of a large matmul and of a VGG-sized 3x3
conv (the limit); FCN-8 training and inference images/s at 160x576 for several
batch sizes and the fraction of the limit that is; training fed from PNGs on
disk by helper.gen_batch_function versus in-memory arrays; the tutorial's naive
way (inline decode and resize, a softmax op per test image) versus ours; the same
with reduced precision (--mixed-precision); and peak memory.
"""
import os
import sys

if __package__ in (None, ''):   # run by path (python benchmarks/x.py): the project's root, not benchmarks/, first
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fcnroad import cli, console  # noqa: E402

console.quiet_tensorflow()   # before anything imports TensorFlow: its start-up lines unless --verbose

import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import imageio.v2 as imageio  # noqa: E402
import numpy as np  # noqa: E402

from fcnroad.data import arrays, kitti_road  # noqa: E402
import helper  # noqa: E402
import main  # noqa: E402
from fcnroad.training import loop, options  # noqa: E402
from fcnroad.training import precision  # noqa: E402
from fcnroad.models import vgg  # noqa: E402

tf = main.tf
KITTI_SIZE = (375, 1242)  # full-size KITTI images, so decode and resize cost what they do there


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def seconds_per_call(fn, steps, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def fcn8_forward_flops(height, width, num_classes=2):
    """2 x multiply-adds of one image's forward pass: VGG16 convs, fc6/fc7, the fcn8s decoder.

    A training step is counted as 3x this (forward, and the two backward products),
    a slight overestimate as conv1_1 needs no input gradient.
    """
    flops, h, w = 0, height, width
    for block in vgg.CONV_LAYERS:
        for _, cin, cout in block:
            flops += 2 * h * w * 9 * cin * cout
        h, w = h // 2, w // 2
    c = num_classes
    flops += 2 * h * w * (49 * 512 * 4096 + 4096 * 4096 + 4096 * c)      # fc6, fc7, score_fr
    flops += 2 * (4 * h * w) * (512 * c + 4 * c * c)                    # score_pool4, upscore2
    flops += 2 * (16 * h * w) * (256 * c + 4 * c * c)                   # score_pool3, upscore_pool4
    flops += 2 * (64 * 16 * h * w) * 4 * c * c                          # upscore8 (k16 s8)
    return flops


def machine_limit(sess_config, dtype=tf.float32, n=4096, steps=5):
    """GFLOP/s of an n x n matmul and of a 3x3 conv 256->256 on a 40x144 map, batch 8."""
    with tf.Graph().as_default(), tf.Session(config=sess_config) as sess:
        a = tf.Variable(tf.random.normal((n, n), dtype=tf.float32))
        b = tf.Variable(tf.random.normal((n, n), dtype=tf.float32))
        product = tf.reduce_sum(tf.matmul(tf.cast(a, dtype), tf.cast(b, dtype)))
        x = tf.Variable(tf.random.normal((8, 40, 144, 256)))
        k = tf.Variable(tf.random.normal((3, 3, 256, 256)))
        conv = tf.reduce_sum(tf.nn.conv2d(tf.cast(x, dtype), tf.cast(k, dtype), 1, 'SAME'))
        sess.run(tf.global_variables_initializer())
        t_mm = seconds_per_call(lambda: sess.run(product), steps)
        t_conv = seconds_per_call(lambda: sess.run(conv), steps)
    return 2 * n ** 3 / t_mm / 1e9, 2 * 8 * 40 * 144 * 9 * 256 * 256 / t_conv / 1e9


class FCN:
    """The FCN-8 training graph as main.run builds it, in its own graph and session."""

    def __init__(self, vgg_dir, sess_config, num_classes=2):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.sess = tf.Session(config=sess_config)
            self.label = tf.placeholder(tf.float32, [None, None, None, num_classes])
            self.lr = tf.placeholder(tf.float32, [])
            self.image, self.keep_prob, l3, l4, l7 = main.load_vgg(self.sess, vgg_dir)
            out = main.layers(l3, l4, l7, num_classes)
            self.probabilities = tf.nn.softmax(out)
            self.logits, self.train_op, self.loss = main.optimize(out, self.label, self.lr, num_classes)
            loop.initialize_new_variables(self.sess)

    def train(self, images, labels):
        self.sess.run([self.train_op, self.loss], {self.image: images, self.label: labels,
                                                   self.keep_prob: 0.5, self.lr: 1e-6})

    def infer(self, images):
        return self.sess.run(self.probabilities, {self.image: images, self.keep_prob: 1.0})


def write_pngs(folder, count, seed=0):
    """KITTI-sized synthetic images and road masks in the data_road/training layout."""
    rng = np.random.RandomState(seed)
    for sub in ('image_2', 'gt_image_2'):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    h, w = KITTI_SIZE
    for i in range(count):
        imageio.imwrite(os.path.join(folder, 'image_2', 'um_%06d.png' % i),
                        rng.randint(0, 255, (h, w, 3), dtype=np.uint8))
        mask = np.zeros((h, w, 3), np.uint8)
        mask[:, :, 0] = 255
        mask[h // 2:, :, 2] = 255
        imageio.imwrite(os.path.join(folder, 'gt_image_2', 'um_road_%06d.png' % i), mask)


def naive_batches(training_dir, image_shape, batch_size):
    """The tutorial's way: decode, resize and convert each batch inline, in the training loop."""
    pairs = kitti_road.kitti_pairs(training_dir)
    for start in range(0, len(pairs), batch_size):
        images, labels = [], []
        for image_path, mask_path in pairs[start:start + batch_size]:
            images.append(arrays.resize_image(arrays.read_png(image_path), image_shape))
            labels.append(arrays.one_hot(arrays.resize_label(kitti_road.kitti_label(mask_path),
                                                                 image_shape), 2))
        yield np.array(images, np.float32), np.array(labels)


def loop_seconds_per_image(fcn, batches, count):
    """Wall time per image of a training loop over `batches`, after one warm-up batch."""
    it = iter(batches)
    fcn.train(*next(it))
    n, start = 0, time.perf_counter()
    for images, labels in it:
        fcn.train(images, labels)
        n += len(images)
        if n >= count:
            break
    return (time.perf_counter() - start) / n


def naive_inference_seconds_per_image(fcn, paths, image_shape):
    """The tutorial's gen_test_output: one image at a time, a new softmax op for each."""
    with fcn.graph.as_default():
        start = time.perf_counter()
        for path in paths:
            image = arrays.resize_image(arrays.read_png(path), image_shape)
            softmax = tf.nn.softmax(fcn.logits)
            fcn.sess.run([softmax], {fcn.image: [image], fcn.keep_prob: 1.0})
        return (time.perf_counter() - start) / len(paths)


def our_inference_seconds_per_image(fcn, paths, image_shape):
    with fcn.graph.as_default():
        start = time.perf_counter()
        for _ in helper.gen_test_output(fcn.sess, fcn.logits, fcn.keep_prob, fcn.image, None, image_shape,
                                        image_paths=paths):
            pass
        return (time.perf_counter() - start) / len(paths)


def bench_precision(name, args, sess_config, limit_gflops, pngs_dir, rows):
    h, w = args.image_shape
    fwd = fcn8_forward_flops(h, w)
    fcn = FCN(args.vgg_dir, sess_config)
    rng = np.random.RandomState(0)
    print('\n## %s' % name)
    print('| batch | train img/s | train %% of %s matmul limit | infer img/s | infer %% of limit | peak RSS GiB |'
          % name.split()[-1].strip('()'))
    print('|---|---|---|---|---|---|')
    for batch in args.batch_sizes:
        images = rng.uniform(0, 255, (batch, h, w, 3)).astype(np.float32)
        labels = arrays.one_hot(rng.randint(0, 2, (batch, h, w)).astype(np.uint8), 2)
        steps = max(1, args.images // batch)
        t_train = seconds_per_call(lambda: fcn.train(images, labels), steps)
        t_infer = seconds_per_call(lambda: fcn.infer(images), steps)
        train_ips, infer_ips = batch / t_train, batch / t_infer
        row = (batch, train_ips, 100 * train_ips * 3 * fwd / 1e9 / limit_gflops,
               infer_ips, 100 * infer_ips * fwd / 1e9 / limit_gflops, peak_rss_gib())
        rows.append((name,) + row)
        print('| %d | %.3f | %.0f%% | %.3f | %.0f%% | %.1f |' % row)

    batch = args.feed_batch
    training_dir = os.path.join(pngs_dir, 'data_road', 'training')
    images = rng.uniform(0, 255, (batch, h, w, 3)).astype(np.float32)
    labels = arrays.one_hot(rng.randint(0, 2, (batch, h, w)).astype(np.uint8), 2)
    count = args.feed_images
    t_memory = loop_seconds_per_image(fcn, iter(lambda: (images, labels), None), count)
    ours = helper.gen_batch_function(training_dir, (h, w), cache=False, seed=0)
    t_ours = loop_seconds_per_image(fcn, ours(batch), count)
    cached = helper.gen_batch_function(training_dir, (h, w), cache=True, seed=0)
    for _ in cached(batch):  # the first epoch fills the cache; time a later one
        pass
    t_cached = loop_seconds_per_image(fcn, cached(batch), count)
    t_naive = loop_seconds_per_image(fcn, naive_batches(training_dir, (h, w), batch), count)
    test_paths = sorted(os.path.join(training_dir, 'image_2', f)
                        for f in os.listdir(os.path.join(training_dir, 'image_2')))[:args.feed_images]
    i_ours = our_inference_seconds_per_image(fcn, test_paths, (h, w))
    i_naive = naive_inference_seconds_per_image(fcn, test_paths, (h, w))
    print('\nFeeding, batch %d, %d images from KITTI-sized PNGs:' % (batch, count))
    print('| training loop | s/image | vs in-memory |')
    print('|---|---|---|')
    print('| in-memory arrays | %.3f | 1.00 |' % t_memory)
    print('| ours: threaded, prefetched gen_batch_function, first epoch (decoding) | %.3f | %.3f |'
          % (t_ours, t_ours / t_memory))
    print('| ours: later epochs (decoded arrays cached) | %.3f | %.3f |' % (t_cached, t_cached / t_memory))
    print('| naive: inline decode/resize, feed_dict | %.3f | %.3f |' % (t_naive, t_naive / t_memory))
    print('\nEnd to end versus the tutorial\'s way (higher = ours faster):')
    print('| | naive s/image | ours s/image | speed-up |')
    print('|---|---|---|---|')
    print('| training from PNGs, first epoch | %.3f | %.3f | %.2fx |' % (t_naive, t_ours, t_naive / t_ours))
    print('| training from PNGs, later epochs | %.3f | %.3f | %.2fx |' % (t_naive, t_cached, t_naive / t_cached))
    print('| inference (softmax per image vs once, batch %d) | %.3f | %.3f | %.2fx |'
          % (helper.INFERENCE_BATCH, i_naive, i_ours, i_naive / i_ours))
    print('peak RSS: %.1f GiB' % peak_rss_gib())
    fcn.sess.close()


def build_parser():
    p = console.Parser(description=__doc__.split('\n\n')[0])
    p.add_argument('--vgg-dir', default=vgg.DEFAULT_DIR, help='VGG16 SavedModel (built when missing)')
    p.add_argument('--image-shape', type=console.Range(int, 32, multiple=32), nargs=2, default=options.DEFAULTS['image_shape'])
    p.add_argument('--batch-sizes', type=console.Range(int, 1), nargs='+', default=[1, 4, 16])
    p.add_argument('--images', type=console.Range(int, 1), default=16, help='images timed per batch size')
    p.add_argument('--feed-batch', type=console.Range(int, 1), default=4)
    p.add_argument('--feed-images', type=console.Range(int, 1), default=16, help='images timed per feeding variant')
    p.add_argument('--mixed-precision', action='store_true',
                   help='also measure bfloat16 (CPU, oneDNN) or float16 (GPU) through the graph rewrite')
    return p


def main_(argv=None):
    with cli.errors_as_exit():
        args = build_parser().parse_args(argv)
    helper.maybe_download_pretrained_vgg('data', vgg_path=args.vgg_dir)
    gpus = tf2_gpus()
    print('# FCN-8 speed benchmark, %s' % time.strftime('%Y-%m-%d %H:%M'))
    print('machine: %s, %d CPUs, %s; TensorFlow %s; image %dx%d'
          % (platform.processor() or platform.machine(), os.cpu_count(),
             ', '.join(gpus) or 'no GPU', main.tf2.__version__, *args.image_shape))
    fp32 = precision.session_config(False, gpu=bool(gpus))
    mm, conv = machine_limit(fp32)
    print('\nlimit float32: matmul 4096^3 %.0f GFLOP/s; 3x3 conv 256->256 %.0f GFLOP/s' % (mm, conv))
    pngs = tempfile.mkdtemp(prefix='fcn8-bench-')
    try:
        write_pngs(os.path.join(pngs, 'data_road', 'training'), args.feed_images + 2 * args.feed_batch)
        rows = []
        bench_precision('float32', args, fp32, mm, pngs, rows)
        numerics = precision.resolve('on', gpu=bool(gpus))
        if args.mixed_precision and not numerics.rewrite:
            print('\n--mixed-precision: %s, so there is no reduced precision to measure' % numerics.note)
        elif args.mixed_precision:
            mixed = precision.session_config(True, xla=bool(gpus), gpu=bool(gpus))  # GPUs: float16 plus XLA
            low = tf.bfloat16 if not gpus else tf.float16
            mm_low, conv_low = machine_limit(mixed, dtype=low)
            print('\nlimit %s: matmul %.0f GFLOP/s; 3x3 conv %.0f GFLOP/s' % (low.name, mm_low, conv_low))
            bench_precision('mixed precision (%s)' % low.name, args, mixed, mm_low, pngs, rows)
            print('\n| batch | train speed-up | infer speed-up |')
            print('|---|---|---|')
            n = len(args.batch_sizes)
            for r32, rlow in zip(rows[:n], rows[n:]):
                print('| %d | %.2fx | %.2fx |' % (r32[1], rlow[2] / r32[2], rlow[4] / r32[4]))
    finally:
        shutil.rmtree(pngs, ignore_errors=True)


def tf2_gpus():
    return [d.name for d in main.tf2.config.list_physical_devices('GPU')]


if __name__ == '__main__':
    main_()
