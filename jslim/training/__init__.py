"""Training pieces: TF1 optimizers and learning rates, gradient processing, moving averages,
sharding, checkpointing, warm starts and the training loop.

The compiled step itself lives in :mod:`jslim.train_step`; evaluation in
:mod:`jslim.evaluation`.
"""
