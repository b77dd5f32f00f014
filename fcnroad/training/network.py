"""The network a run trains: the tutorial's (load_vgg, then layers) or a family built in the
graph from models/, on one device or replicated under a tf.distribute strategy."""
import tensorflow as tf2

from fcnroad import errors, models
from fcnroad.models import mil, vgg
from fcnroad.serving.saved_model import save_model
from fcnroad.training import distribute

tf = tf2.compat.v1


def build_network(sess, args, num_classes, tutorial=None):
    """(image_input, keep_prob, is_training or None, class scores, pretrained weights still to copy or None).

    With `tutorial` (trainer.Tutorial) fcn8s is built the tutorial's way: load_vgg's frozen
    VGG16, then layers().  The other families (and fcn8s without `tutorial`) build their encoder
    in the graph (models/) from the same ImageNet weights, which transplant() copies in once the
    variables are initialised.
    """
    name = args.model
    if name == models.TUTORIAL_MODEL and tutorial is not None:
        input_image, keep_prob, layer3_out, layer4_out, layer7_out = tutorial.load_vgg(sess, args.vgg_dir)
        return input_image, keep_prob, None, tutorial.layers(layer3_out, layer4_out, layer7_out, num_classes,
                                                             args.decoder, args.l2), None
    weights = pretrained_weights(args)
    input_image, keep_prob, is_training = model_inputs()
    scores = models.build(name, input_image, keep_prob, weights, num_classes, is_training, args.l2, args.fc_depth)
    return input_image, keep_prob, is_training, tf.identity(scores, name='scores'), weights


def model_inputs():
    """The in-graph families' inputs: images, dropout keep probability, batch norm's training flag."""
    return (tf.placeholder(tf.float32, [None, None, None, 3], name='image_input'),
            tf.placeholder_with_default(1.0, [], name='keep_prob'),
            tf.placeholder_with_default(False, [], name='is_training'))


def pretrained_weights(args):
    """The ImageNet weights of --model's encoder, as {layer: (kernel, bias)}."""
    try:
        return models.pretrained_weights(models.get(args.model).encoder, vgg_dir=args.vgg_dir,
                                         path=args.encoder_weights)
    except vgg.WeightsError as e:     # encoders' and pip's
        raise errors.ConfigError('--model %s: %s' % (args.model, e))


def build_replicated(args, num_classes, class_weights, setup, correct_label, learning_rate, optimize):
    """build_network and optimize under a tf.distribute strategy (--distribute).

    Each replica builds the network on its share of the fed batch and optimize() sums the
    replicas' gradients (optimize: the tutorial's); then a copy of the network on the whole fed batch, sharing the
    variables, serves validation and the samples.  fcn8s is built from models/ (load_vgg's
    imported graph cannot be mirrored): the FCN authors' fcn8s, from the same weights.
    Returns (image_input, keep_prob, is_training, scores of the whole batch, model variables,
    train_op, loss, pretrained weights still to copy).
    """
    name = args.model
    built = {}
    with setup.strategy.scope():
        input_image, keep_prob, is_training = model_inputs()
        weights = pretrained_weights(args)

        def replica_step():
            # The first replica creates the variables (its L2 terms with them), the others share them.
            scores = models.build(name, distribute.replica_share(input_image), keep_prob, weights, num_classes,
                                  is_training, args.l2, args.fc_depth)
            built.setdefault('model_variables', tf.global_variables())
            _, train_op, loss = optimize(scores, distribute.replica_share(correct_label), learning_rate,
                                         num_classes, args.encoder_lr_scale, args.clip_norm, class_weights,
                                         image_labels_r(args), args.frozen_blocks, args.ohem,
                                         args.boundary_weight)
            return train_op, loss

        train_op, loss = setup.strategy.extended.call_for_each_replica(replica_step)
        train_op = setup.strategy.group(train_op)
        loss = distribute.first_local(loss)
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            scores = models.build(name, input_image, keep_prob, weights, num_classes, is_training, args.l2,
                                  args.fc_depth)
    return (input_image, keep_prob, is_training, tf.identity(scores, name='scores'), built['model_variables'],
            train_op, loss, weights)


def save_single_device_model(sess, export_dir, args, num_classes, model_variables, run_config):
    """save_model of a replicated network: its weights copied into the network built on one device."""
    trained = {v.op.name: v for v in model_variables}
    with tf.Graph().as_default(), tf.Session() as single:
        input_image, keep_prob, _, scores, _ = build_network(None, args, num_classes)
        probabilities = network_probabilities(scores, args)
        variables = tf.global_variables()
        for v in variables:     # one at a time: no second copy of all the weights in memory
            v.load(sess.run(trained[v.op.name]), single)
        save_model(single, export_dir, variables,
                   {'image_input': input_image, 'keep_prob': keep_prob, 'probabilities': probabilities}, run_config)



def image_labels_r(args):
    """The Log-Sum-Exp sharpness when the run learns from image-level labels, else None."""
    return args.lse_r if args.supervision == mil.SUPERVISION else None


def network_probabilities(scores, args):
    """The network's class probabilities: a softmax, times the image-level prior for image-labels runs."""
    r = image_labels_r(args)
    if r:
        return mil.probabilities_with_image_prior(scores, r, name='probabilities')
    return tf.nn.softmax(scores, name='probabilities')
