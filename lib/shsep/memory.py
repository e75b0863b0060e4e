"""Process-wide memory settings for separating long files block by block (what `shsep separate` runs).

Each block of a song allocates the same large arrays again (its STFT at the input's rate, the mapped masks, the
stems). Two defaults make every block pay for fresh memory from the kernel:

* numpy asks for transparent huge pages on each large array (madvise). Where the kernel's THP defrag setting is
  `madvise` (a common default), each such page fault may compact memory synchronously;
* glibc returns freed blocks above its mmap threshold to the kernel at once, so the next block faults them in
  again.

`reuse_freed_memory` changes both for this process, so that later blocks reuse the memory earlier ones freed:
on 5- and 10-minute songs the whole command ran 1.12-1.17× faster (the separation work alone about 1.3×) at the
same peak memory (docs/speed.md). It suits a short-lived command; a long-lived process (a notebook kernel) keeps
the defaults.
"""
from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
LARGEST_HEAP_BLOCK = 1 << 30  # blocks up to this size come from (and go back to) the heap, not fresh mappings
KEPT_FREE_MEMORY = 1 << 31  # the heap is trimmed back to the kernel only above this much free memory


def reuse_freed_memory(keep_heap: bool = True) -> dict[str, bool]:
    """Keep freed large arrays for reuse (see the module's docstring); which of the two settings took effect
    (neither fails: on a C library other than glibc, or a numpy without the switch, that one is left as is).
    keep_heap=False leaves glibc's thresholds alone: the Wiener post-filter's many block-sized copies, kept in the
    heap, raised its peak for a 10-minute song from about 840 to 974 MiB, near the 1 GiB bound."""
    applied = {"numpy_huge_pages_off": False, "glibc_heap_reuse": False}
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            _set_madvise_hugepage = None
    if _set_madvise_hugepage is not None:
        _set_madvise_hugepage(False)
        applied["numpy_huge_pages_off"] = True
    library = ctypes.util.find_library("c")
    try:
        mallopt = getattr(ctypes.CDLL(library), "mallopt", None) if library and "musl" not in library else None
    except OSError:
        mallopt = None
    if mallopt is not None and keep_heap:  # glibc: returns 1 on success
        applied["glibc_heap_reuse"] = bool(mallopt(M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK)
                                           and mallopt(M_TRIM_THRESHOLD, KEPT_FREE_MEMORY))
    return applied
