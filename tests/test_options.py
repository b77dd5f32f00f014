import pytest

from fcnroad import errors
from fcnroad.training import old_runs, options, run_config


def test_augment_can_be_turned_on_and_off_and_counts_as_given():
    parser = options.build_parser()
    assert parser.parse_args(['--no-augment']).augment is False
    assert parser.parse_args(['--augment']).augment is True
    assert parser.parse_args([]).augment is options.DEFAULTS['augment']
    assert 'augment' in options.explicit_flags(['--no-augment'])
    assert 'augment' not in options.explicit_flags(['--epochs', '3'])


def test_explicit_flags_names_exactly_the_flags_given_even_at_their_default_value():
    given = options.explicit_flags(['--epochs', str(options.DEFAULTS['epochs']), '--no-mixed-precision', '--image-shape',
                                 '64', '96', '--mixed-precision'])
    assert given == {'epochs', 'mixed_precision', 'image_shape'}
    assert options.explicit_flags([]) == set()


def test_mixed_precision_has_three_modes_and_the_bare_flag_means_on():
    parser = options.build_parser()
    assert parser.parse_args([]).mixed_precision == options.DEFAULTS['mixed_precision'] == 'off'
    assert parser.parse_args(['--mixed-precision']).mixed_precision == 'on'
    assert parser.parse_args(['--mixed-precision', 'auto']).mixed_precision == 'auto'
    assert parser.parse_args(['--mixed-precision', 'on', '--no-mixed-precision']).mixed_precision == 'off'
    with pytest.raises(errors.ConfigError, match='--mixed-precision'):
        parser.parse_args(['--mixed-precision', 'bf16'])


def test_camvid_trains_at_its_own_size_unless_image_shape_is_given():
    parser = options.build_parser()
    args = parser.parse_args(['--dataset', 'camvid'])
    assert options.apply_dataset_defaults(args, options.explicit_flags(['--dataset', 'camvid'])) == \
        {'image_shape': (352, 480)}
    assert tuple(args.image_shape) == (352, 480)
    given = ['--dataset', 'camvid_road', '--image-shape', '192', '256']
    args = parser.parse_args(given)
    assert options.apply_dataset_defaults(args, options.explicit_flags(given)) == {}
    assert tuple(args.image_shape) == (192, 256)
    args = parser.parse_args(['--dataset', 'folder'])          # nobody measured: the source's 160x576
    assert options.apply_dataset_defaults(args, set()) == {}
    assert tuple(args.image_shape) == options.DEFAULTS['image_shape'] == (160, 576)


def test_kitti_trains_fcn8s_with_its_measured_recipe_unless_a_flag_or_the_tutorial_recipe_says_otherwise(capsys):
    args, _ = options.resolve([])
    assert (tuple(args.image_shape), args.batch_size, args.epochs) == ((256, 832), 4, 12)
    assert (args.frozen_blocks, args.fc_depth, args.vgg_dir) == (3, 1024, './data/vgg-fc1024')
    assert ('kitti: trained with its own settings --image-shape 256 832 --batch-size 4 --epochs 12 --frozen-blocks 3 '
            '--fc-depth 1024') in capsys.readouterr().out
    args, _ = options.resolve(['--recipe', 'tutorial'])
    assert (tuple(args.image_shape), args.batch_size, args.epochs) == ((160, 576), 16, 40)
    assert (args.frozen_blocks, args.fc_depth, args.vgg_dir) == (0, 4096, './data/vgg')
    args, _ = options.resolve(['--image-shape', '192', '640', '--frozen-blocks', '1'])
    assert tuple(args.image_shape) == (192, 640) and args.frozen_blocks == 1 and args.fc_depth == 1024


def test_kittis_vgg16_levers_apply_to_fcn8s_only(capsys):
    args, _ = options.resolve(['--model', 'fcn32s'])
    assert (args.frozen_blocks, args.fc_depth, args.vgg_dir) == (0, 4096, './data/vgg')
    assert (args.batch_size, args.epochs) == (4, 12)             # the dataset's schedule still holds
    assert '--frozen-blocks' not in capsys.readouterr().out
    assert options.resolve(['--model', 'lraspp_lite0'])[0].frozen_blocks == 0
    args, _ = options.resolve(['--model', 'fcn32s', '--fc-depth', '512'])
    assert (args.fc_depth, args.vgg_dir) == (512, './data/vgg-fc512')
    with pytest.raises(errors.ConfigError, match='--fc-depth 1024: --model segnet has no fc6/fc7'):
        options.resolve(['--model', 'segnet', '--fc-depth', '1024'])


def test_a_vgg_dir_given_sets_the_fc_width_unless_fc_depth_is_given_too(tiny_vgg, capsys):
    args, _ = options.resolve(['--vgg-dir', tiny_vgg])
    assert args.fc_depth == 32 and args.vgg_dir == tiny_vgg          # the SavedModel's, over KITTI's 1024
    assert 'fc6/fc7 32 wide, as its SavedModel has them' in capsys.readouterr().out
    with pytest.raises(errors.ConfigError, match='--vgg-dir .*: its fc6/fc7 are 32 wide, not 1024 \\(--fc-depth\\)'):
        options.resolve(['--vgg-dir', tiny_vgg, '--fc-depth', '1024'])
    with pytest.raises(errors.ConfigError, match='its fc6/fc7 are 32 wide, not 4096'):
        options.resolve(['--vgg-dir', tiny_vgg, '--recipe', 'tutorial'])


def test_a_default_vgg_dir_of_another_width_is_refused_and_a_missing_one_is_left_to_be_built(tmp_path, tiny_vgg,
                                                                                               monkeypatch):
    import shutil
    monkeypatch.setattr(options.vgg, 'DEFAULT_DIR', str(tmp_path / 'vgg'))
    args, _ = options.resolve([])
    assert (args.vgg_dir, args.fc_depth) == (str(tmp_path / 'vgg-fc1024'), 1024)     # absent: built at the start
    shutil.copytree(tiny_vgg, tmp_path / 'vgg-fc1024')
    with pytest.raises(errors.ConfigError, match='vgg-fc1024: its fc6/fc7 are 32 wide, not 1024 .*delete the folder'):
        options.resolve([])


def test_resolve_a_flag_beats_the_recipe_which_beats_the_dataset_which_beats_the_defaults(capsys):
    args, explicit = options.resolve(['--recipe', 'tutorial', '--dataset', 'camvid', '--epochs', '2'])
    assert args.epochs == 2                                   # the flag, not the recipe's 40
    assert args.batch_size == 16 and args.decoder == 'tutorial'           # the recipe's
    assert tuple(args.image_shape) == (160, 576)              # the recipe's, not camvid's 352x480
    assert args.lr_power == options.DEFAULTS['lr_power']      # nobody's: the project's default
    assert {'epochs', 'batch_size', 'image_shape'} <= explicit and 'lr_power' not in explicit
    assert '--recipe tutorial: --image-shape 160 576 --batch-size 16' in capsys.readouterr().out
    args, explicit = options.resolve(['--dataset', 'camvid'])
    assert tuple(args.image_shape) == (352, 480) and args.batch_size == options.DEFAULTS['batch_size']
    assert 'camvid: trained with its own settings --image-shape 352 480' in capsys.readouterr().out
    args, _ = options.resolve(['--dataset', 'camvid', '--image-shape', '192', '256'])
    assert tuple(args.image_shape) == (192, 256)


def test_resolve_checks_the_settings_it_returns():
    with pytest.raises(errors.ConfigError, match='--image-shape: must be a multiple of 32, at least 32, not 100'):
        options.resolve(['--image-shape', '100', '576'])


def test_a_zoom_range_out_of_order_is_refused_before_any_work():
    with pytest.raises(errors.ConfigError, match='--aug-\\*: scale must be MIN MAX with 0 < MIN <= MAX'):
        options.resolve(['--aug-scale', '1.5', '0.75'])
    assert options.resolve(['--aug-scale', '1.5', '0.75', '--no-augment'])[0].augment is False


def test_a_run_saved_before_newer_settings_is_brought_up_to_date_as_it_trained():
    # run_args.json of a run from before augmentation, timed checkpoints, precision modes and frozen blocks,
    # with a setting that no longer exists
    saved = {'epochs': 7, 'image_shape': [160, 576], 'mixed_precision': True, 'gone_flag': 1}
    config = old_runs.bring_up_to_date(saved)
    assert (config.epochs, config.image_shape, config.mixed_precision) == (7, (160, 576), 'on')
    assert config.augment is False and config.checkpoint_minutes == 0.0     # it trained without them
    assert config.frozen_blocks == 0 and config.model == 'fcn8s'           # today's defaults, which it had
    assert config.fc_depth == 4096
    with pytest.raises(AttributeError):
        config.gone_flag


def test_a_run_saved_before_fc_depth_takes_the_width_of_its_saved_model(tiny_vgg):
    assert old_runs.bring_up_to_date({'vgg_dir': tiny_vgg}).fc_depth == 32
    assert old_runs.bring_up_to_date({'vgg_dir': tiny_vgg, 'fc_depth': 16}).fc_depth == 16


def test_a_run_saved_with_a_weights_flag_merged_since_reads_it_as_encoder_weights():
    assert old_runs.bring_up_to_date({'light_weights': 'lite0.pth'}).encoder_weights == 'lite0.pth'
    assert old_runs.bring_up_to_date({'alexnet_weights': 'a.ckpt', 'light_weights': None}).encoder_weights == 'a.ckpt'
    assert old_runs.bring_up_to_date({}).encoder_weights is None


def test_the_run_configuration_is_typed_as_its_flags_and_refuses_a_setting_that_does_not_exist():
    import dataclasses
    import typing
    kinds = {field.name: field.type for field in dataclasses.fields(options.RunConfig)}
    assert (kinds['epochs'], kinds['learning_rate'], kinds['augment'], kinds['skip_checks']) == (int, float, bool, bool)
    assert (kinds['image_shape'], kinds['vgg_weights_h5']) == (typing.Tuple[int, int], typing.Optional[str])
    config = options.RunConfig()
    assert config.learning_rate == options.DEFAULTS['learning_rate']
    with pytest.raises(AttributeError):
        config.learning_rat = 0.1


def test_the_parser_has_one_flag_per_run_config_field_with_the_fields_default():
    parser = options.build_parser()
    defaults = {}
    for action in parser.options:             # a setting's first flag holds its default (not --no-...'s)
        defaults.setdefault(action.dest, action.default)
    defaults.pop('help')
    assert set(defaults) == set(run_config.field_names())
    assert defaults == {name: run_config.DEFAULTS[name] for name in defaults}
    assert vars(parser.parse_args([])) == run_config.RunConfig().as_dict()


def test_encoder_weights_are_refused_for_a_family_that_reads_vgg16s_folder(tmp_path):
    path = tmp_path / 'w.pth'
    path.write_bytes(b'x')
    with pytest.raises(errors.ConfigError, match='--encoder-weights .*w.pth: --model fcn8s reads VGG16.s from --vgg-dir'):
        options.resolve(['--encoder-weights', str(path)])
    assert options.resolve(['--model', 'lraspp_lite0', '--encoder-weights', str(path)])[0].encoder_weights == str(path)
