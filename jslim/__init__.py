"""jslim: TF-Slim, reborn as a functional JAX/Flax library."""

__version__ = "0.1.0"
