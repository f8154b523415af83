"""Convolution layers against TF-Slim (tests/fixtures/layers/conv.npz) and slim's goldens.

Fixture cases (tools/make_layer_fixtures.py): conv2d SAME/VALID x stride 1/2 x
even/odd sizes, rate 2, asymmetric kernels, NCHW, with a normalizer, without
biases, default scope numbering; conv1d/conv3d (and NCW/NCDHW); conv2d_transpose
SAME/VALID stride 2 on even and odd sizes, stride 3, NCHW; conv3d_transpose;
separable_conv2d with and without ``num_outputs`` (depth_multiplier 2, stride 2,
rate 2, NCHW, batch norm); conv2d_in_plane. Variable names, shapes, trainability,
outputs and batch-norm updates must match; float32 max abs error <= 1e-5.
TF-Slim's hand-computed ``testConv2DSame{Even,Odd}`` goldens (conv2d with TF's
strided SAME padding) live in test_nets_resnet.py.
"""

import pytest

import layer_fixtures as lf


@pytest.mark.parametrize("name", lf.case_names("conv"))
def test_matches_tf_slim(name):
    lf.check_case("conv", name)
