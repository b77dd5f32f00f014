from fcnroad.training import weak_rounds


def test_round_ends_split_the_epochs_into_equal_stretches_ending_at_the_last():
    assert weak_rounds.round_ends(9, 2) == [3, 6, 9]
    assert weak_rounds.round_ends(10, 1) == [5, 10]
    assert weak_rounds.round_ends(4, 0) == [4]


def test_mask_supervision_is_one_stretch_of_every_epoch():
    class Args:
        supervision, epochs = 'masks', 7
    stretches = list(weak_rounds.training_rounds(Args, None, 'the training set', None, None,
                                                 lambda dataset: 'batches of ' + dataset, None))
    assert stretches == [(7, 'batches of the training set')]
