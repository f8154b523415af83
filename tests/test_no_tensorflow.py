"""jslim's core imports without TensorFlow (issue #2: no TF dependency)."""

import os
import subprocess
import sys
import textwrap

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class BlockTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tf_slim", "tf_keras", "keras"):
                raise ImportError(f"blocked import of {name}")
            return None

    sys.meta_path.insert(0, BlockTensorFlow())
    for name in list(sys.modules):
        if name.split(".")[0] == "tensorflow":
            del sys.modules[name]
    """
)


def test_core_imports_with_tensorflow_blocked():
    code = BLOCKER + textwrap.dedent(
        """
        import jslim, jslim.layers, jslim.scopes, jslim.losses
        try:
            import tensorflow  # the blocker must work, or this test proves nothing
        except ImportError:
            pass
        else:
            raise SystemExit("tensorflow was not blocked")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_slim"))
        assert not loaded, loaded
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
