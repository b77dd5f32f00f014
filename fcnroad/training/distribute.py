"""Training on several devices or machines: TensorFlow's tf.distribute driving the tutorial's graph and session.

`--distribute mirrored`: one process, a MirroredStrategy over every visible GPU (or, without
GPUs, the CPU split into --logical-cpus devices, to try it out).  `--distribute multi-worker`:
one process per machine, each told the cluster and its own place in it by TF_CONFIG, a
MultiWorkerMirroredStrategy whose collective all-reduce keeps every copy of the weights equal;
worker 0 is the chief, the only one that writes the run folder.  Both split the global batch
(--batch-size) over the replicas in sync, and main.optimize() sums their gradients, so a step
is the single-device step on the same batch (README: Training on several GPUs or machines).
"""
import hashlib
import json
import os

import tensorflow as tf2

tf = tf2.compat.v1

MODES = ('none', 'mirrored', 'multi-worker')
LR_SCALINGS = ('none', 'linear', 'sqrt')
DEFAULTS = {
    'distribute': 'none',
    'lr_scaling': 'none',     # the rate as given, whatever the number of replicas
    'step_timeout': 600,      # seconds a distributed step may take before a worker counts as lost
    'logical_cpus': 0,        # the CPU left whole
}
TF_CONFIG = 'TF_CONFIG'


class DistributeError(ValueError):
    """A distributed setting that cannot work (TF_CONFIG, devices, batch size)."""


def use_logical_cpus(count):
    """Split the CPU into `count` logical devices (before TensorFlow initialises its devices)."""
    cpu = tf2.config.list_physical_devices('CPU')[0]
    try:
        tf2.config.set_logical_device_configuration(cpu, [tf2.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as e:
        raise DistributeError('--logical-cpus %d: %s' % (count, e)) from None


def read_tf_config(environ=os.environ):
    """(worker addresses, this process's index) from TF_CONFIG, with an error naming what is wrong."""
    text = environ.get(TF_CONFIG)
    example = ('e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise DistributeError('--distribute multi-worker needs %s in the environment (%s)' % (TF_CONFIG, example))
    try:
        config = json.loads(text)
        workers = config['cluster']['worker']
        task = config['task']
    except (ValueError, KeyError, TypeError) as e:
        raise DistributeError('%s is not a cluster and task (%s: %s); %s' % (TF_CONFIG, type(e).__name__, e,
                                                                             example)) from None
    if set(config['cluster']) != {'worker'}:
        raise DistributeError('%s: only "worker" jobs are used (worker 0 is the chief), not %s'
                              % (TF_CONFIG, ', '.join(sorted(set(config['cluster']) - {'worker'}))))
    if not isinstance(workers, list) or not workers or not all(isinstance(w, str) and ':' in w for w in workers):
        raise DistributeError('%s: cluster.worker must be a list of host:port, not %r' % (TF_CONFIG, workers))
    index = task.get('index') if isinstance(task, dict) else None
    if not isinstance(task, dict) or task.get('type') != 'worker' or not isinstance(index, int) \
            or not 0 <= index < len(workers):
        raise DistributeError('%s: task must be {"type": "worker", "index": 0..%d}, not %r'
                              % (TF_CONFIG, len(workers) - 1, task))
    return workers, index


class Setup:
    """A strategy with what the trainer needs to know about it."""

    def __init__(self, mode, strategy, target='', workers=None, task_index=0, logical_cpus=0):
        self.mode = mode
        self.strategy = strategy
        self.target = target           # the session's target ('' in process)
        self.logical_cpus = logical_cpus
        self.workers = workers or ['localhost']
        self.task_index = task_index
        self.replicas = strategy.num_replicas_in_sync
        self.local_replicas = len(strategy.extended.worker_devices)

    def session_config(self, config):
        """The session's ConfigProto: config with the devices and the cluster's settings."""
        if self.logical_cpus:
            config.device_count['CPU'] = self.logical_cpus
        return self.strategy.update_config_proto(config) if self.mode == 'multi-worker' else config

    @property
    def is_chief(self):
        return self.task_index == 0

    def describe(self):
        where = 'worker %d of %d (%s)' % (self.task_index, len(self.workers), self.workers[self.task_index]) \
            if self.mode == 'multi-worker' else 'one process'
        return '--distribute %s: %d replicas in sync, %s, on %s' % (
            self.mode, self.replicas, where, ', '.join(self.strategy.extended.worker_devices))

    def check_batch_size(self, batch_size):
        if batch_size % self.replicas:
            raise DistributeError('--batch-size %d is split over %d replicas: it must be a multiple of %d'
                                  % (batch_size, self.replicas, self.replicas))

    def shard(self):
        """(this worker's index, number of workers): which part of each global batch it reads."""
        return self.task_index, len(self.workers)

    def learning_rate(self, rate, rule):
        """The rate for the global batch: as given ('none'), or times the replicas ('linear', Goyal et
        al. 2017) or their square root ('sqrt'), for a --batch-size grown with the replicas."""
        if rule not in LR_SCALINGS:
            raise DistributeError('--lr-scaling must be one of %s, not %r' % (', '.join(LR_SCALINGS), rule))
        return rate * {'none': 1.0, 'linear': self.replicas, 'sqrt': self.replicas ** 0.5}[rule]


def setup(mode, config, logical_cpus=0, environ=os.environ):
    """The Setup of --distribute `mode` (None for 'none'); config: the session's ConfigProto;
    logical_cpus: without GPUs, split the CPU into that many devices (0: leave it whole)."""
    if mode == 'none':
        return None
    if logical_cpus:
        use_logical_cpus(logical_cpus)
        config.device_count['CPU'] = logical_cpus
    if mode == 'mirrored':
        devices = tf2.config.list_logical_devices('GPU') or tf2.config.list_logical_devices('CPU')
        return Setup(mode, tf2.distribute.MirroredStrategy([d.name for d in devices]), logical_cpus=logical_cpus)
    if mode != 'multi-worker':
        raise DistributeError('--distribute must be one of %s, not %r' % (', '.join(MODES), mode))
    workers, index = read_tf_config(environ)
    resolver = tf2.distribute.cluster_resolver.TFConfigClusterResolver()
    strategy = tf.distribute.experimental.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    config = strategy.update_config_proto(config)
    try:
        server = tf2.distribute.Server(resolver.cluster_spec(), 'worker', index, config=config, start=True)
    except (tf.errors.OpError, RuntimeError) as e:
        raise DistributeError('%s: cannot start worker %d at %s: %s' % (TF_CONFIG, index, workers[index],
                                                                        str(e).splitlines()[0])) from None
    setup = Setup(mode, strategy, server.target, workers, index, logical_cpus)
    setup.server = server      # kept alive as long as the Setup
    return setup


def replica_index():
    """This replica's place among all replicas in sync (0 outside a strategy), as a Python int."""
    return int(tf.get_static_value(tf2.distribute.get_replica_context().replica_id_in_sync_group))


def replica_share(batch):
    """This replica's share of the batch fed to this process (an equal slice per local replica)."""
    context = tf2.distribute.get_replica_context()
    local = len(tf2.distribute.get_strategy().extended.worker_devices)
    if context.num_replicas_in_sync == 1:
        return batch
    index = replica_index() % local       # replicas are numbered worker by worker
    with tf.colocate_with(batch):         # sliced where it was fed: each device receives its share only
        size = tf.shape(batch)[0] // local
        return batch[index * size:(index + 1) * size]


def all_sum(values):
    """The sum over all replicas of each tensor in `values` (replica context), with no gradient.

    ReplicaContext.all_reduce is differentiable through a custom gradient that cannot find the
    other replicas' copies of v1 variables; the sums main.optimize() needs are of gradients and
    counts, so the plain cross-replica reduction is the one to use.
    """
    def reduce(strategy, *per_replica):
        return strategy.extended.batch_reduce_to(tf2.distribute.ReduceOp.SUM, [(v, v) for v in per_replica])
    return tf2.distribute.get_replica_context().merge_call(reduce, args=tuple(values))


def first_local(value):
    """One local replica's copy of a value every replica holds equal (an all-reduced loss)."""
    return tf2.distribute.get_strategy().experimental_local_results(value)[0]


def weights_digest(sess, variables):
    """sha256 of the variables' names and values: equal on every worker when the copies agree."""
    digest = hashlib.sha256()
    for variable in sorted(variables, key=lambda v: v.op.name):   # one at a time: a worker's memory is full
        digest.update(variable.op.name.encode())
        digest.update(sess.run(variable).tobytes())
    return digest.hexdigest()


# What a lost worker looks like from the others: a step past its deadline, a peer gone.
WORKER_LOST = (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.CancelledError,
               tf.errors.AbortedError)


def lost_worker_message(error, setup, timeout):
    return ('--distribute %s: a step did not complete (%s within --step-timeout %d s): a worker of %s '
            'stopped or cannot be reached, so this one stops too'
            % (setup.mode, type(error).__name__, timeout, ', '.join(setup.workers)))
