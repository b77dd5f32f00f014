"""--supervision boxes-recursive: training in stretches, the network relabelling its boxes between them."""
import os

from fcnroad import files
from fcnroad.data import arrays, weak
from fcnroad.evaluation import metrics, scoring

WEAK_ROUNDS_DIR = 'weak_labels'


def round_ends(epochs, rounds):
    """The last epoch of each of the rounds + 1 stretches of training boxes-recursive splits a run into."""
    return [round(epochs * (k + 1) / (rounds + 1)) for k in range(rounds + 1)]


def training_rounds(args, state, train_set, boxes, staging, make_batches, predict_probabilities):
    """(last epoch, get_batches_fn) of each stretch of training, as train_nn is called.

    One stretch of all epochs, unless --supervision boxes-recursive: then after each stretch
    the network predicts the training images, its predictions inside their boxes become the
    next stretch's labels (weak.recursive_label), kept in the run folder so a resumed run
    continues with them.
    """
    if args.supervision != 'boxes-recursive':
        yield args.epochs, make_batches(train_set)
        return
    ends = round_ends(args.epochs, args.recursive_rounds)
    dataset = train_set
    for k, end in enumerate(ends):
        if k:
            folder = os.path.join(staging, WEAK_ROUNDS_DIR, 'round-%d' % k)
            done = os.path.join(folder, weak.LABELS_COMPLETE)
            if os.path.isfile(done):
                dataset = weak.labelled_dataset(train_set, folder, [None] * len(train_set), 'round-%d' % k)
            elif state.epoch >= ends[k - 1]:
                dataset = relabel(train_set, boxes, folder, predict_probabilities, k)
        if state.epoch < end:
            yield end, make_batches(dataset)


def relabel(train_set, boxes, folder, predict_probabilities, round_number, batch_size=scoring.EVAL_BATCH):
    """The training set labelled by the network's predictions inside the boxes (one recursive round)."""
    labels = []
    for start in range(0, len(train_set), batch_size):
        images = [arrays.read_png(image) for image, _ in train_set.pairs[start:start + batch_size]]
        for probs, (image_boxes, background) in zip(predict_probabilities(images), boxes[start:start + batch_size]):
            prediction = metrics.classes_from_probabilities(probs, train_set.positive)
            labels.append(weak.recursive_label(prediction, image_boxes, train_set.num_classes, background))
    dataset = weak.labelled_dataset(train_set, folder, labels, 'round-%d' % round_number)
    files.write_json_atomic(os.path.join(folder, weak.LABELS_COMPLETE), {'images': len(labels)})
    print('  boxes-recursive round %d: %d training images relabelled by the network inside their boxes'
          % (round_number, len(labels)), flush=True)
    return dataset
