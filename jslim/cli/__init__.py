"""The ``jslim`` command line: train, eval, inspect, convert."""
