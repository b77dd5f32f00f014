"""SegNet: max-unpooling with the encoder's indices, the mirrored decoder, batch norm's two modes."""
import json
import subprocess
import sys

import numpy as np
import tensorflow as tf2

from fcnroad import models
from conftest import ROOT, tiny_vgg_weights
from fcnroad.models import segnet

tf = tf2.compat.v1


def test_unpooling_puts_values_back_where_the_maxima_were():
    x = np.array([[1, 9, 2, 0],
                  [3, 4, 8, 5],
                  [7, 0, 1, 1],
                  [2, 6, 3, 0]], np.float32)
    batch = np.stack([x, -x.T])[..., None]                       # two images: the batch is in the index
    with tf.Graph().as_default(), tf.Session() as sess:
        inputs = tf.constant(batch)
        pooled, argmax = tf.nn.max_pool_with_argmax(inputs, [1, 2, 2, 1], [1, 2, 2, 1], 'SAME',
                                                    include_batch_in_index=True)
        restored = segnet.unpool(pooled * 10, argmax, inputs, 'upsample1')
        grad = tf.gradients(tf.reduce_sum(restored), pooled)[0]
        out, g = sess.run([restored, grad])
    want = np.zeros_like(batch)
    for i, image in enumerate(batch[..., 0]):
        for r in (0, 2):
            for c in (0, 2):
                block = image[r:r + 2, c:c + 2]
                dr, dc = np.unravel_index(block.argmax(), (2, 2))
                want[i, r + dr, c + dc, 0] = 10 * block.max()
    np.testing.assert_array_equal(out, want)
    assert out[0, 0, 1, 0] == 90 and out[0, 1, 2, 0] == 80 and out[0, 2, 0, 0] == 70 and out[0, 3, 2, 0] == 30
    np.testing.assert_array_equal(g, 10.0)                       # each pooled value went to one place


def test_decoder_mirrors_the_encoder_and_ends_in_the_classifier():
    weights = tiny_vgg_weights()
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        models.build('segnet', images, tf.constant(1.0), weights, 5)
        kernels = {v.op.name.split('/')[1]: v.shape.as_list() for v in tf.global_variables()
                   if v.op.name.startswith('decoder/') and v.op.name.endswith('/weights')}
        names = {v.op.name for v in tf.global_variables()}
    assert 'fc6/weights' not in names and 'fc7/weights' not in names     # SegNet drops VGG's fc layers
    depth = {name: weights[name][0].shape[-1] for name in weights}
    assert kernels['conv5_3_D'] == [3, 3, depth['conv5_3'], depth['conv5_3']]
    assert kernels['conv4_1_D'] == [3, 3, depth['conv4_3'], depth['conv3_3']]   # narrows to block 3's depth
    assert kernels['conv2_1_D'] == [3, 3, depth['conv2_2'], depth['conv1_2']]
    assert kernels['conv1_1_D'] == [3, 3, depth['conv1_2'], 5]
    assert len(kernels) == 13


def test_batch_norm_uses_batch_statistics_only_while_training():
    x = np.random.RandomState(0).normal(3.0, 2.0, (4, 5, 5, 2)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        inputs = tf.constant(x)
        training = tf.placeholder_with_default(False, [])
        y = segnet.batch_norm(inputs, training, 'bn')
        sess.run(tf.global_variables_initializer())
        moving = [v for v in tf.global_variables() if 'moving' in v.op.name]
        inference = sess.run(y)
        assert sess.run(moving[0]).tolist() == [0.0, 0.0]       # inference leaves the averages alone
        trained = sess.run(y, {training: True})
        mean_after = sess.run(moving[0])
    np.testing.assert_allclose(inference, x / np.sqrt(1 + segnet.BN_EPSILON), rtol=1e-5)
    np.testing.assert_allclose(trained.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(trained.std(axis=(0, 1, 2)), 1.0, atol=1e-3)
    np.testing.assert_allclose(mean_after, (1 - segnet.BN_DECAY) * x.mean(axis=(0, 1, 2)), rtol=1e-4)


REPLICATED_BATCH_NORM = '''
import json, sys, numpy as np, tensorflow as tf2
sys.path.insert(0, sys.argv[1])
cpu = tf2.config.list_physical_devices('CPU')[0]
tf2.config.set_logical_device_configuration(cpu, [tf2.config.LogicalDeviceConfiguration()] * 2)
tf = tf2.compat.v1
tf.disable_v2_behavior()
from fcnroad.models import segnet
x = np.zeros((2, 2, 2, 1), np.float32)
x[0], x[1] = 1.0, 5.0                                  # replica 0 sees mean 1, replica 1 mean 5
with tf.Graph().as_default():
    strategy = tf2.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    with strategy.scope():
        batch = tf.constant(x)
        def step():
            index = int(tf.get_static_value(tf2.distribute.get_replica_context().replica_id_in_sync_group))
            return segnet.batch_norm(batch[index:index + 1], True, 'bn')
        out = strategy.experimental_local_results(strategy.extended.call_for_each_replica(step))
        mean = [v for v in tf.global_variables() if v.op.name == 'bn/moving_mean'][0]
        with tf.Session(config=tf.ConfigProto(device_count={'CPU': 2})) as sess:
            sess.run(tf.global_variables_initializer())
            normalised = sess.run(out)
            copies = sess.run(strategy.experimental_local_results(mean))
            print(json.dumps([[float(c[0]) for c in copies], [float(np.abs(n).max()) for n in normalised]]))
'''


def test_replicated_batch_norm_averages_the_replicas_updates():
    """Under a strategy (main.py --distribute) each replica normalises its share; the moving mean of
    every copy moves by the mean of the replicas' batch means: 0.9 * 0 + 0.1 * (1 + 5) / 2."""
    result = subprocess.run([sys.executable, '-c', REPLICATED_BATCH_NORM, ROOT], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    copies, normalised = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(copies, [0.3, 0.3], rtol=1e-6)
    np.testing.assert_allclose(normalised, [0.0, 0.0], atol=1e-6)   # each share minus its own mean
