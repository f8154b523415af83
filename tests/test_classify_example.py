"""examples/classify.py and jslim.nets.load on TF-written LeNet checkpoints (V1 and V2)."""

import pathlib
import runpy

import jax
import numpy as np
import pytest
from PIL import Image

import jslim.nets
from jslim.checkpoints import tensor_names_to_tree
from jslim.data.preprocessing import get_preprocessing

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "checkpoints"
EXAMPLE = pathlib.Path(__file__).parents[1] / "examples" / "classify.py"


@pytest.fixture(scope="module")
def classify():
    return runpy.run_path(str(EXAMPLE))


def _expected(name):
    with np.load(FIXTURES / name / "expected.npz") as data:
        return {k: data[k] for k in data.files if not k.startswith("__")}


@pytest.mark.parametrize("fmt", ["lenet_v1", "lenet_v2"])
def test_load_and_classify_match_direct_computation(classify, fmt, tmp_path, capsys):
    # The fixtures hold LeNet built on 8x8 inputs (fc3 is [256, 1024]).
    image = np.random.default_rng(3).integers(0, 256, (8, 8, 1), dtype=np.uint8)
    model, variables = jslim.nets.load("lenet", FIXTURES / fmt / "model.ckpt", image_size=8)
    direct = {"params": tensor_names_to_tree(_expected(fmt))}
    batch = get_preprocessing("lenet")(image[None], 8, 8)
    want, _ = model.apply(direct, batch, is_training=False)
    got, _ = model.apply(variables, batch, is_training=False)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))

    top = classify["classify"]("lenet", str(FIXTURES / fmt / "model.ckpt"), image, image_size=8)
    probs = np.asarray(jax.nn.softmax(want[0]))
    assert [i for i, _ in top] == list(np.argsort(-probs, kind="stable")[:5])
    np.testing.assert_allclose([p for _, p in top], np.sort(probs)[::-1][:5], rtol=1e-6)

    Image.fromarray(image[..., 0]).save(tmp_path / "digit.png")
    (tmp_path / "labels.txt").write_text("\n".join(f"digit {d}" for d in range(10)))
    assert classify["main"]([
        "--model_name", "lenet", "--checkpoint_path", str(FIXTURES / fmt / "model.ckpt"),
        "--image", str(tmp_path / "digit.png"), "--labels", str(tmp_path / "labels.txt"),
        "--image_size", "8",
    ]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and lines[0].split()[0] == str(top[0][0])
    assert lines[0].endswith(f"digit {top[0][0]}")


def test_load_reports_a_wrong_image_size():
    from jslim.checkpoints import CheckpointError  # pylint: disable=import-outside-toplevel

    with pytest.raises(CheckpointError, match="LeNet/fc3/weights"):
        jslim.nets.load("lenet", FIXTURES / "lenet_v2" / "model.ckpt")
