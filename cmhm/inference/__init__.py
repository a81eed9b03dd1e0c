"""Using a trained model: the model file, its assembly, ``cmhm.load``, ``cmhm predict`` and ``cmhm export``."""
