import pytest

from fcnroad.training import loop, options


def test_poly_schedule_decays_to_zero_and_constant_stays():
    poly = loop.learning_rate_schedule(1e-3, 'poly', total_steps=10, power=1.0)
    assert [poly(s) for s in (0, 5, 10)] == pytest.approx([1e-3, 5e-4, 0.0])
    assert loop.learning_rate_schedule(1e-3, 'poly', 10, power=0.9)(5) == pytest.approx(1e-3 * 0.5 ** 0.9)
    assert loop.learning_rate_schedule(1e-3, 'constant', 10)(7) == 1e-3
    with pytest.raises(ValueError, match='step'):
        loop.learning_rate_schedule(1e-3, 'step', 10)


def test_divergence_advice_names_only_changes_not_already_in_use():
    args = options.build_parser().parse_args([])
    advice = loop.divergence_advice(args, 'bfloat16')
    assert '--mixed-precision off' in advice and 'it was 0.0001; try 1e-05' in advice
    assert '--clip-norm was 10; try 1' in advice and '--decoder' not in advice   # fcn8s's decoder is in use
    args = options.build_parser().parse_args(['--decoder', 'tutorial', '--clip-norm', '0', '--learning-rate', '0.001'])
    advice = loop.divergence_advice(args, 'float32')
    assert '--mixed-precision' not in advice and '--decoder fcn8s' in advice
    assert 'clip the gradients (--clip-norm 10)' in advice and 'it was 0.001' in advice
