"""cmhm: Cascade Multi-view Hourglass Model for robust 3D face alignment (Deng et al., FG 2018)."""

__version__ = "0.1.0"
