"""glibc's malloc for inference on a CPU: keep freed activations for reuse instead of handing them back.

At batch 1 a paper-size cascade frees and allocates a few hundred tensors of 0.1-4 MiB per face. With
glibc's defaults most of them are ``mmap``-ed and unmapped again, or cut off the heap's top and grown back,
and every new page costs a fault: about a quarter of the ``fast`` form's time in session scripts (README,
Performance). Raising the two thresholds keeps them in the heap. It is where glibc's own adjustment ends
(it raises the mmap threshold to the largest block freed, up to 32 MiB, and sets the trim threshold to
twice that), reached before the first face instead of only once the process happens to free a block that
large (decoding a photo does; a loop over small crops does not). The process keeps up to 64 MiB of freed
memory per heap for reuse.

The setting is the process's, not the model's. :class:`cmhm.inference.api.FaceAligner` makes it when it is
built; glibc's environment variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) win
when set, and another C library or a preloaded allocator (jemalloc, tcmalloc) is left as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h> parameter numbers
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest mmap threshold on 64-bit Linux (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES  # as glibc pairs them when it raises the mmap threshold
ENV_KEYS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def glibc() -> bool:
    """Whether this process runs on glibc (Linux; musl and other systems have other allocators)."""
    has_name = sys.platform.startswith("linux") and "CS_GNU_LIBC_VERSION" in os.confstr_names
    version = os.confstr("CS_GNU_LIBC_VERSION") if has_name else None
    return (version or "").startswith("glibc")


def keep_freed_memory() -> str:
    """Set glibc's mmap and trim thresholds for this process (idempotent); returns what was done, for
    logs and ``make bench``'s machine line: 'set', 'environment' (the user's variables stand), 'not glibc'
    or 'refused' (glibc's ``mallopt`` returned 0: the thresholds stay as they were)."""
    if any(k in os.environ for k in ENV_KEYS):
        return "environment"
    if not glibc():
        return "not glibc"
    mallopt = ctypes.CDLL(None).mallopt  # the process's own malloc: glibc's unless another is preloaded
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return "set" if ok else "refused"
