"""TF-Slim's layer library as plain functions for Flax ``@nn.compact`` methods.

Every layer keeps slim's name, argument names and defaults (minus graph plumbing:
``reuse`` and ``*_collections``), and creates its variables under ``scope`` with
TF-Slim's names and layouts, so a TF name is the variable's tree path.

Modules: ``conv`` (convolution, conv1d/2d/3d, conv2d/3d_transpose), ``depthwise``
(separable_conv2d, conv2d_in_plane), ``core`` (fully_connected, bias_add, dropout,
flatten, maxout, repeat, stack...), ``batch_norm``, ``normalization`` (layer_norm,
group_norm, instance_norm, unit_norm, l2_normalize, gdn), ``pooling`` (max/avg
pools, spatial_softmax), ``initializers``, ``regularizers`` and ``variable_scope``.
Parity with TF-Slim 1.1.0 is tested against fixtures made by
``tools/make_layer_fixtures.py``.
"""

from jslim.layers.batch_norm import batch_norm
from jslim.layers.conv import (
    conv1d,
    conv2d,
    conv2d_transpose,
    conv3d,
    conv3d_transpose,
    convolution,
    convolution1d,
    convolution2d,
    convolution2d_transpose,
    convolution3d,
    convolution3d_transpose,
)
from jslim.layers.core import (
    bias_add,
    dropout,
    flatten,
    fully_connected,
    images_to_sequence,
    linear,
    maxout,
    one_hot_encoding,
    relu,
    relu6,
    repeat,
    scale_gradient,
    sequence_to_images,
    softmax,
    stack,
)
from jslim.layers.depthwise import (
    conv2d_in_plane,
    convolution2d_in_plane,
    depthwise_conv2d,
    separable_conv2d,
    separable_convolution2d,
)
from jslim.layers.initializers import (
    constant_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    variance_scaling_initializer,
    xavier_initializer,
    xavier_initializer_conv2d,
    zeros_initializer,
)
from jslim.layers.normalization import (
    gdn,
    group_norm,
    instance_norm,
    l2_normalize,
    layer_norm,
    poincare_normalize,
    unit_norm,
)
from jslim.layers.pooling import avg_pool2d, avg_pool3d, max_pool2d, max_pool3d, spatial_softmax
from jslim.layers.regularizers import (
    apply_regularization,
    get_regularization_loss,
    get_regularization_losses,
    l1_l2_regularizer,
    l1_regularizer,
    l2_regularizer,
    sum_regularizer,
)
from jslim.layers.variable_scope import current_scope, model_variable, scope_path, variable_scope

__all__ = [
    "apply_regularization",
    "avg_pool2d",
    "avg_pool3d",
    "batch_norm",
    "bias_add",
    "constant_initializer",
    "conv1d",
    "conv2d",
    "conv2d_in_plane",
    "conv2d_transpose",
    "conv3d",
    "conv3d_transpose",
    "convolution",
    "convolution1d",
    "convolution2d",
    "convolution2d_in_plane",
    "convolution2d_transpose",
    "convolution3d",
    "convolution3d_transpose",
    "current_scope",
    "depthwise_conv2d",
    "dropout",
    "flatten",
    "fully_connected",
    "gdn",
    "get_regularization_loss",
    "get_regularization_losses",
    "group_norm",
    "images_to_sequence",
    "instance_norm",
    "l1_l2_regularizer",
    "l1_regularizer",
    "l2_normalize",
    "l2_regularizer",
    "layer_norm",
    "linear",
    "max_pool2d",
    "max_pool3d",
    "maxout",
    "model_variable",
    "one_hot_encoding",
    "ones_initializer",
    "poincare_normalize",
    "random_normal_initializer",
    "random_uniform_initializer",
    "relu",
    "relu6",
    "repeat",
    "scale_gradient",
    "scope_path",
    "separable_conv2d",
    "separable_convolution2d",
    "sequence_to_images",
    "softmax",
    "spatial_softmax",
    "stack",
    "sum_regularizer",
    "truncated_normal_initializer",
    "unit_norm",
    "variable_scope",
    "variance_scaling_initializer",
    "xavier_initializer",
    "xavier_initializer_conv2d",
    "zeros_initializer",
]
