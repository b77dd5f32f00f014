"""benchmarks/input_size.py: the rules for the size a network sees a frame at."""
import os

from benchmarks import input_size
from conftest import make_kitti
from fcnroad.data import arrays, datasets


def test_the_rules_give_the_sizes_they_say():
    rules = input_size.rule_shapes((360, 480), (384, 1248), heights=[256])
    assert rules['stretch'] == (384, 1248)
    assert rules['height'] == arrays.network_shape((360, 480), (384, 1248)) == (384, 512)
    assert rules['native'] == (352, 480)                      # 360 -> the nearest multiple of 32
    h, w = rules['area']
    assert abs(h * w - 384 * 1248) < 0.1 * 384 * 1248 and abs(w / h - 480 / 360.0) < 0.1
    assert rules['height 256'] == (256, 352)


def test_every_rule_is_scored_on_the_block(trained_run, tmp_path, capsys):
    _, run_dir = trained_run
    kitti = make_kitti(str(tmp_path / 'kitti'), n_train=4, n_test=0, shape=(48, 96))
    with open(os.path.join(kitti, 'data_road', datasets.VAL_LIST), 'w') as f:
        f.write('um_000001.png\num_000002.png\n')
    rows = input_size.main(['--model', os.path.join(run_dir, 'model'), '--kitti-dir', kitti])
    assert [rule for _, rule, _ in rows] == ['stretch', 'height', 'area', 'native']
    out = capsys.readouterr().out
    assert '| stretch | 64x96 |' in out and '| height | 64x128 |' in out     # 48x96 frames, trained at 64x96
