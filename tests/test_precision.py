import numpy as np
import pytest
import tensorflow as tf2

from fcnroad.training import loop, precision

tf = tf2.compat.v1

NATIVE = {'avx512f', 'avx512_bf16'}


def test_off_is_float32_everywhere():
    assert precision.resolve('off', gpu=True).name == 'float32'
    assert precision.resolve('off', gpu=False, flags=NATIVE) == ('float32', False, '--mixed-precision off')


def test_a_gpu_gets_float16_in_both_reduced_modes():
    for mode in ('on', 'auto'):
        assert precision.resolve(mode, gpu=True)[:2] == ('float16', True)


def test_auto_takes_bfloat16_only_where_the_cpu_runs_it_natively():
    assert precision.resolve('auto', gpu=False, flags=NATIVE)[:2] == ('bfloat16', True)
    assert precision.resolve('auto', gpu=False, flags={'avx512f'})[:2] == ('float32', False)
    amx = {'amx_bf16', 'avx512_bf16', 'avx512f'}
    assert precision.resolve('auto', gpu=False, flags=amx)[:2] == ('float32', False)   # off AMX: slower
    assert 'AMX' in precision.resolve('auto', gpu=False, flags=amx).note
    forced = precision.resolve('on', gpu=False, flags=amx)
    assert forced[:2] == ('bfloat16', True) and 'off AMX' in forced.note


def test_auto_keeps_float32_on_a_cpu_for_a_network_bfloat16_does_not_speed_up():
    slow = precision.resolve('auto', gpu=False, flags=NATIVE, cpu_bfloat16=False)
    assert slow[:2] == ('float32', False) and 'no faster' in slow.note
    assert precision.resolve('on', gpu=False, flags=NATIVE, cpu_bfloat16=False).name == 'bfloat16'
    assert precision.resolve('auto', gpu=True, cpu_bfloat16=False).name == 'float16'


def test_on_says_when_tensorflow_will_not_run_the_rewrite():
    emulated = precision.resolve('on', gpu=False, flags={'avx512f'})
    assert emulated[:2] == ('bfloat16', True) and 'emulated' in emulated.note
    avx2 = precision.resolve('on', gpu=False, flags={'avx2', 'fma'})
    assert avx2[:2] == ('float32', False) and 'AVX512F' in avx2.note


def test_modes_saved_by_older_runs_are_read():
    assert precision.normalise_mode(True) == 'on'
    assert precision.normalise_mode(False) == 'off'
    assert precision.normalise_mode('auto') == 'auto'
    with pytest.raises(ValueError, match='--mixed-precision'):
        precision.normalise_mode('bf16')


def test_the_loss_side_ops_move_from_infer_to_deny_keeping_what_the_user_set():
    environ = {precision.DENYLIST_ADD: 'Tanh'}
    precision.keep_float32_in_environment(environ, ops=('Sum', 'Mean'))
    precision.keep_float32_in_environment(environ, ops=('Sum', 'Mean'))    # twice: no duplicates
    assert environ[precision.DENYLIST_ADD] == 'Tanh,Sum,Mean'
    assert environ[precision.INFERLIST_REMOVE] == 'Sum,Mean'


def test_session_config_switches_precision_and_xla():
    on = precision.rewriter_config_pb2.RewriterConfig.ON
    cpu = precision.session_config(reduced=True, gpu=False).graph_options.rewrite_options
    assert cpu.auto_mixed_precision_onednn_bfloat16 == on and cpu.auto_mixed_precision != on
    gpu = precision.session_config(reduced=True, xla=True, gpu=True)
    assert gpu.graph_options.rewrite_options.auto_mixed_precision == on
    assert gpu.graph_options.optimizer_options.global_jit_level == tf.OptimizerOptions.ON_1
    plain = precision.session_config(gpu=False)
    assert plain.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 != on


def _losses(vgg_dir, reduced, steps=40, shape=(64, 192), batch=2):
    """Loss of every step of the tutorial's graph (tiny VGG) trained on fixed synthetic batches."""
    import main
    rng = np.random.RandomState(0)
    images = rng.uniform(0, 255, (steps, batch) + shape + (3,)).astype(np.float32)
    road = (np.arange(shape[0])[:, None] > shape[0] // 2) & np.ones(shape, bool)
    labels = np.stack([~road, road], -1).astype(np.float32)
    labels[:, :4] = 0        # not evaluated, as KITTI's black pixels
    with tf.Graph().as_default(), tf.Session(config=precision.session_config(reduced, gpu=False)) as sess:
        tf.set_random_seed(0)
        image_input, keep_prob, l3, l4, l7 = main.load_vgg(sess, vgg_dir)
        last = main.layers(l3, l4, l7, 2)
        label = tf.placeholder(tf.float32, [None, None, None, 2])
        rate = tf.placeholder(tf.float32, [])
        _, train_op, loss = main.optimize(last, label, rate, 2)
        loop.initialize_new_variables(sess)
        return [sess.run([train_op, loss], {image_input: images[i], label: [labels] * batch, keep_prob: 0.5,
                                            rate: 1e-4})[1] for i in range(steps)]


@pytest.mark.skipif(precision.resolve('on', gpu=False).name != 'bfloat16',
                    reason='needs a CPU on which TensorFlow runs its oneDNN bfloat16 rewrite (AVX512F): '
                           'this one has none, so bfloat16 cannot be trained here')
def test_bfloat16_training_at_64x192_stays_finite_and_tracks_float32(tiny_vgg):
    full = _losses(tiny_vgg, reduced=False)
    reduced = _losses(tiny_vgg, reduced=True)
    assert np.all(np.isfinite(reduced)), reduced
    # bfloat16 keeps 8 bits of mantissa: the curves differ step by step, not in where they go.
    assert abs(np.mean(reduced[-10:]) - np.mean(full[-10:])) < 0.05 + 0.1 * np.mean(full[-10:])
