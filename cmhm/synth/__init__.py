"""The procedural synthetic-face dataset (the project's offline default data).

Public entry points: :class:`SynthConfig`, :func:`generate_images`, :func:`generate_videos`,
:func:`render_one` (one face with given parameters, for tests) and :func:`cmhm.synth.head.mean_head`.
"""

from cmhm.synth.config import SynthConfig
from cmhm.synth.face import FaceParams, render_face
from cmhm.synth.generate import generate_images, render_one
from cmhm.synth.video import generate_videos

__all__ = ["FaceParams", "SynthConfig", "generate_images", "generate_videos", "render_face", "render_one"]
