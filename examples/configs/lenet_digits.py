"""An example ``--config`` for ``jslim train``: LeNet on digits with Adam and an EMA.

    jslim train --config examples/configs/lenet_digits.py
    jslim train --config examples/configs/lenet_digits.py --max_number_of_steps 50   # flags win
    python examples/train_with_config.py --config examples/configs/lenet_digits.py

Keys are ``jslim train`` flag names (slim's); anything not set keeps its default. Set
``JSLIM_RUN_LOCAL=1`` for a seconds-long smoke run (big_vision's "run locally" switch).
"""

import os

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """The experiment's flags."""
    config = ml_collections.ConfigDict()
    config.train_dir = "./runs/lenet_digits_adam"
    config.model_name = "lenet"
    config.dataset_name = "digits"
    config.optimizer = "adam"
    config.opt_epsilon = 1e-8  # slim's default 1.0 suits RMSProp, not Adam
    config.learning_rate = 0.001
    config.learning_rate_decay_type = "fixed"
    config.weight_decay = 4e-5
    config.moving_average_decay = 0.99
    config.batch_size = 32
    config.max_number_of_steps = 500
    if os.environ.get("JSLIM_RUN_LOCAL"):
        config.train_dir = "/tmp/jslim_lenet_digits_local"
        config.max_number_of_steps = 5
        config.save_interval_secs = 0.0
    return config
