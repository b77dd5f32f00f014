"""DeepLab-LargeFOV (Chen et al.): VGG16 at output stride 8 (pool4/pool5 at stride 1, conv5
dilated by 2, fc6 a 3x3 conv dilated by 12 over 1024 channels), class scores `fc8` on fc7,
upsampled bilinearly to the input's size.  The fully connected CRF that follows it in the
paper is crf.py, an evaluate.py/predict.py flag (--crf).
"""
import tensorflow as tf2

from fcnroad.models.fcn import conv1x1

tf = tf2.compat.v1

FC8_STDDEV = 0.01          # the authors' Gaussian initialisation of the new classifier


def deeplab_largefov(endpoints, num_classes, l2=0.0, training=None):
    fc8 = conv1x1(endpoints['fc7'], num_classes, 'fc8', l2, tf.random_normal_initializer(stddev=FC8_STDDEV))
    return tf2.image.resize(fc8, tf.shape(endpoints['input'])[1:3], method='bilinear', name='upscore8')
