"""Data: datasets, slim preprocessing, input pipelines (no TensorFlow)."""
