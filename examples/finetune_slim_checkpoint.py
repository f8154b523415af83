"""Fine-tune a TF-Slim checkpoint with a new head, like slim's README recipe, without TensorFlow.

    python examples/finetune_slim_checkpoint.py --checkpoint_path lenet.ckpt [--model_name lenet]

1. **New head only**: load every variable of the checkpoint except the logits scope
   (``--checkpoint_exclude_scopes``), which starts from its initializer, and train only
   that scope (``--trainable_scopes``).
2. **Everything**: start from the run of step 1 (a jslim checkpoint) and train all
   variables at a lower learning rate.

Without ``--checkpoint_path`` the example first makes a slim checkpoint to start from: it
trains LeNet on digits briefly and writes it in TF-Slim's V2 format (the variables TF
would have, under the same names), as if it came from ``train_image_classifier.py``.
"""

from __future__ import annotations

import argparse
import os
import sys

from jslim.checkpoints import export_slim_checkpoint
from jslim.cli import training_job
from jslim.cli.train import resolve_flags
from jslim.evaluation import state_from_checkpoint

LOGITS_SCOPE = {"lenet": "LeNet/fc4", "cifarnet": "CifarNet/logits"}


def make_slim_checkpoint(workdir: str, steps: int) -> str:
    """Trains LeNet on digits for ``steps`` and exports it as a TF-Slim V2 checkpoint."""
    run = os.path.join(workdir, "pretrain")
    training_job.train_image_classifier(resolve_flags(train_dir=run, max_number_of_steps=steps, eval_split_name=""))
    state = state_from_checkpoint(run)
    return export_slim_checkpoint(os.path.join(workdir, "slim", "model.ckpt"), state.variables(),
                                  global_step=int(state.step))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint_path", default=None, help="a TF-Slim checkpoint (V1/V2)")
    parser.add_argument("--model_name", default="lenet")
    parser.add_argument("--workdir", default="./runs/finetune")
    parser.add_argument("--steps", type=int, default=200, help="training steps of each phase")
    args = parser.parse_args(argv)
    checkpoint = args.checkpoint_path or make_slim_checkpoint(args.workdir, args.steps)
    head = LOGITS_SCOPE[args.model_name]
    common = dict(model_name=args.model_name, max_number_of_steps=args.steps)

    new_head = os.path.join(args.workdir, "new_head")
    phase1 = training_job.train_image_classifier(resolve_flags(
        train_dir=new_head, checkpoint_path=checkpoint, checkpoint_exclude_scopes=head, trainable_scopes=head,
        learning_rate=0.01, **common))
    everything = os.path.join(args.workdir, "all")
    phase2 = training_job.train_image_classifier(resolve_flags(
        train_dir=everything, checkpoint_path=new_head, learning_rate=0.001, **common))
    for name, summary in (("new head only", phase1), ("all variables", phase2)):
        print(f"{name}: test accuracy {summary['eval']['Accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
