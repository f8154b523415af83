"""slim's eval preprocessing (numpy) against TF's ops (fixture from tools/make_preprocessing_fixtures.py)."""

import pathlib

import numpy as np
import pytest

from jslim.data import preprocessing as pp

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "preprocessing" / "eval.npz"


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("key", ["a", "b"])
def test_matches_tf(ref, key):
    img = ref[f"{key}_image"]
    # float32 rounding of the bilinear weights: 1e-5 on [-1, 1], 1e-3 on [0, 255].
    np.testing.assert_allclose(pp.inception_eval(img, 29, 31), ref[f"{key}_inception"], atol=1e-5)
    np.testing.assert_allclose(pp.vgg_eval(img, 32, 30, resize_side=40), ref[f"{key}_vgg"], atol=1e-3)
    np.testing.assert_allclose(pp.lenet_eval(img, 28, 60), ref[f"{key}_lenet"], atol=1e-6)
    np.testing.assert_allclose(pp.cifarnet_eval(img, 32, 32), ref[f"{key}_cifarnet"], atol=1e-5)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="inception"):
        pp.get_preprocessing("imagenet")
