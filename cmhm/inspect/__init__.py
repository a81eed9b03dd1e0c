"""``python -m cmhm inspect PATH``: what an artifact is, where it came from, a summary."""
