"""Real-data adapters and the fetch / verify / extract logic.

Adapters (each writes a :mod:`cmhm.data.samples` table; images stay where they are and are referenced
by paths relative to the table folder):
  - :func:`cmhm.data.aflw2000.adapt_aflw2000`: AFLW2000-3D (``.mat`` 3D landmarks and pose);
  - :func:`cmhm.data.lp300w.adapt_300w_lp`: 300W-LP (with its flipped copies and ``landmarks/``);
  - :func:`cmhm.data.menpo.adapt_menpo`: Menpo 2D (68-point semi-frontal, 39-point profile);
  - :func:`cmhm.data.video.adapt_300vw`, :func:`cmhm.data.video.adapt_menpo3d_video`: tracking videos.

Helpers: :mod:`cmhm.data.pts` (iBUG ``.pts`` I/O), :mod:`cmhm.data.fetch` (download, verify,
manifest; :func:`cmhm.data.archive.safe_extract`), :mod:`cmhm.data.gated` (instructions for the
licence-gated sets), :mod:`cmhm.data.labels3d` (the training split's 3D labels fitted to its 2D labels,
written beside the sample table and joined to the crops by sample id).
"""
