"""Numba kernels behind every event representation: one pass, parallel, race-free scatter-add.

The output is a stack of G = T * C planes (H', W'); window k owns planes k*C .. k*C + C - 1.
Events are time-sorted and windows are contiguous event ranges, so the planes an event touches
never decrease along the event array. That gives three tricks:

* Threads without races: the events are split into J chunks of equal count, one per thread
  (plain Python threads running GIL-free numba code; no OpenMP, so fork-safe). Planes touched by
  one chunk only are written in place; the few events that may touch a plane shared with a
  neighbour form a prefix and a suffix of each chunk (binary search) and go, through the same
  loop, to at most three private planes at each end, added afterwards. No full-size private
  grids, no atomics, no per-event ownership test.
* Cache: while events stay in bin b, planes b and b+1 are accumulated in one interleaved buffer
  (one cache line per event instead of two), flushed when b changes.
* Precision: t - t_start and the window offsets are exact int64; t* is float64, sums float32.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..jit import njit

VOXEL = 0  # channels = time bins, bilinear in time (Zhu et al. 2019)
HISTOGRAM = 1  # channel 0 = ON count, channel 1 = OFF count


@njit(nogil=True, inline="always")
def _window_of(i, starts):
    """Index k of the window whose event range [starts[k], starts[k+1]) holds event i."""
    return np.searchsorted(starts, i, side="right") - 1


@njit(nogil=True, inline="always")
def _bin(t, t0, windows, off, scale, channels):
    """Time bin b and weight fraction f (float32) of an event at t µs, t* = b + f."""
    ts = ((t - t0) * windows - off) * scale
    b = min(np.int64(ts), channels - 1)
    return b, np.float32(ts - b)


@njit(nogil=True)
def _lowest_plane(mode, channels, ev, i, starts, t0, windows, span, scale):
    """A lower bound, monotone in i, of the planes event i touches."""
    k = _window_of(i, starts)
    if mode == HISTOGRAM:
        return k * channels
    return k * channels + _bin(ev[i].t, t0, windows, k * span, scale, channels)[0]


@njit(nogil=True)
def _highest_plane(mode, channels, ev, i, starts, t0, windows, span, scale):
    """An upper bound, monotone in i, of the planes event i touches."""
    k = _window_of(i, starts)
    if mode == HISTOGRAM:
        return k * channels + channels - 1
    return k * channels + min(_bin(ev[i].t, t0, windows, k * span, scale, channels)[0] + 1, channels - 1)


@njit(nogil=True)
def _first_index(a, b, mode, channels, ev, starts, t0, windows, span, scale, highest, limit):
    """First i in [a, b) whose lowest (highest=False) / highest plane is >= / > limit, else b."""
    while a < b:
        m = (a + b) // 2
        if highest:
            ok = _highest_plane(mode, channels, ev, m, starts, t0, windows, span, scale) > limit
        else:
            ok = _lowest_plane(mode, channels, ev, m, starts, t0, windows, span, scale) >= limit
        if ok:
            b = m
        else:
            a = m + 1
    return a


@njit(nogil=True)
def _flush_pair(flat, pair, plane, hw, last):
    """Add the interleaved pair buffer to planes ``plane`` and (unless ``last``) ``plane + 1``."""
    base = plane * hw
    for i in range(hw):
        flat[base + i] += pair[2 * i]
    if not last:
        for i in range(hw):
            flat[base + hw + i] += pair[2 * i + 1]
    pair[:] = 0


@njit(nogil=True)
def _voxel_pairs(ev, i0, i1, t0, windows, off, scale, channels, out, plane0):
    """As :func:`_voxel_direct`, for many events per voxel: while the events stay in bin b (they are
    time-sorted), accumulate into one buffer interleaving planes b and b+1, so each event touches
    one cache line instead of two, and add the buffer to ``out`` when b changes (one pass over
    two planes per bin)."""
    w = out.shape[2]
    hw = out.shape[1] * w
    flat = out.reshape(-1)
    pair = np.zeros(2 * hw, np.float32)
    j = i0
    while j < i1:
        cur = _bin(ev[j].t, t0, windows, off, scale, channels)[0]
        while j < i1:
            e = ev[j]
            b, f = _bin(e.t, t0, windows, off, scale, channels)
            if b != cur:
                break
            pol = np.float32(e.p)
            idx = 2 * (np.int64(e.y) * w + e.x)
            pair[idx] += pol - pol * f
            pair[idx + 1] += pol * f
            j += 1
        _flush_pair(flat, pair, plane0 + cur, hw, cur + 1 >= channels)


@njit(nogil=True)
def _voxel_direct(ev, i0, i1, t0, windows, off, scale, channels, out, plane0):
    """Fast path: events i0..i1-1 of one window, full sensor; bin b -> plane plane0 + b of ``out``."""
    h = out.shape[1]
    w = out.shape[2]
    hw = h * w
    if i1 - i0 >= channels * hw:  # dense: the pair buffer pays for its flushes
        _voxel_pairs(ev, i0, i1, t0, windows, off, scale, channels, out, plane0)
        return
    flat = out.reshape(-1)
    for j in range(i0, i1):
        e = ev[j]
        b, f = _bin(e.t, t0, windows, off, scale, channels)
        pol = np.float32(e.p)
        idx = (plane0 + b) * hw + np.int64(e.y) * w + e.x
        flat[idx] += pol - pol * f
        if b + 1 < channels:
            flat[idx + hw] += pol * f


@njit(nogil=True)
def _voxel_mapped(ev, i0, i1, t0, windows, off, scale, channels, xmap, ymap, out, plane0):
    """As :func:`_voxel_direct` with crop/resize: (x, y) -> (xmap[x], ymap[y]), dropped when -1."""
    h = out.shape[1]
    w = out.shape[2]
    flat = out.reshape(-1)
    hw = h * w
    for j in range(i0, i1):
        e = ev[j]
        xx = xmap[e.x]
        yy = ymap[e.y]
        if xx < 0 or yy < 0:
            continue
        b, f = _bin(e.t, t0, windows, off, scale, channels)
        pol = np.float32(e.p)
        idx = (plane0 + b) * hw + yy * w + xx
        flat[idx] += pol - pol * f
        if b + 1 < channels:
            flat[idx + hw] += pol * f


@njit(nogil=True)
def _histogram(ev, i0, i1, xmap, ymap, out, plane0):
    """ON events -> plane plane0, OFF events -> plane plane0 + 1 of ``out``."""
    for j in range(i0, i1):
        e = ev[j]
        xx = xmap[e.x]
        yy = ymap[e.y]
        if xx >= 0 and yy >= 0:
            out[plane0 + (0 if e.p > 0 else 1), yy, xx] += np.float32(1.0)


@njit(nogil=True)
def _scatter(mode, channels, ev, i0, i1, starts, t0, windows, span, scale, xmap, ymap,
             mapped, out, first_plane):
    """Events i0..i1-1 into ``out``, whose plane 0 stands for global plane ``first_plane``."""
    if i0 >= i1:
        return
    k = _window_of(i0, starts)
    i = i0
    while i < i1:
        stop = min(i1, starts[k + 1])
        plane0 = k * channels - first_plane
        if mode == HISTOGRAM:
            _histogram(ev, i, stop, xmap, ymap, out, plane0)
        elif mapped:
            _voxel_mapped(ev, i, stop, t0, windows, k * span, scale, channels, xmap, ymap, out,
                          plane0)
        else:
            _voxel_direct(ev, i, stop, t0, windows, k * span, scale, channels, out, plane0)
        i = stop
        k += 1


@njit(nogil=True)
def _plan(mode, channels, ev, starts, t0, windows, span, scale, chunks):
    """Split events ev[starts[0]:starts[-1]] into ``chunks`` race-free pieces (see accumulate).

    Returns bounds (J+1,) event indices of the chunks; heads, tails (J,): chunk c's events
    bounds[c]..heads[c]-1 and tails[c]..bounds[c+1]-1 go to private planes, the rest to ``out``;
    first, count, offset (J, 2): for the head (0) and tail (1) of each chunk, the global plane its
    first private plane stands for, how many private planes and where they start in the buffer.
    """
    n0 = starts[0]
    n = starts[-1] - n0
    bounds = np.empty(chunks + 1, np.int64)
    for c in range(chunks + 1):
        bounds[c] = n0 + n * c // chunks
    lo = np.empty(chunks, np.int64)
    hi = np.empty(chunks, np.int64)
    for c in range(chunks):
        lo[c] = _lowest_plane(mode, channels, ev, bounds[c], starts, t0, windows, span, scale)
        hi[c] = _highest_plane(mode, channels, ev, bounds[c + 1] - 1, starts, t0, windows, span, scale)
    heads = np.empty(chunks, np.int64)
    tails = np.empty(chunks, np.int64)
    first = np.zeros((chunks, 2), np.int64)
    count = np.zeros((chunks, 2), np.int64)
    offset = np.zeros((chunks, 2), np.int64)
    total = 0
    for c in range(chunks):
        # planes no other chunk touches (lo/hi are monotone in c, so neighbours suffice)
        direct_lo = lo[c] if c == 0 else max(lo[c], hi[c - 1] + 1)
        direct_hi = hi[c] if c == chunks - 1 else min(hi[c], lo[c + 1] - 1)
        a = bounds[c]
        b = bounds[c + 1]
        heads[c] = _first_index(a, b, mode, channels, ev, starts, t0, windows, span, scale, False, direct_lo)
        tails[c] = _first_index(heads[c], b, mode, channels, ev, starts, t0, windows, span, scale, True,
                                direct_hi)
        if heads[c] > a:  # head events touch planes lo .. min(direct_lo, hi) (at most 3)
            first[c, 0] = lo[c]
            count[c, 0] = min(direct_lo, hi[c]) - lo[c] + 1
        if tails[c] < b:  # tail events touch planes max(direct_hi, lo) .. hi (at most 3)
            first[c, 1] = max(direct_hi, lo[c])
            count[c, 1] = hi[c] - first[c, 1] + 1
        for end in range(2):
            offset[c, end] = total
            total += count[c, end]
    return bounds, heads, tails, first, count, offset, total


@njit(nogil=True)
def _run_chunk(c, mode, channels, ev, starts, t0, windows, span, scale, xmap, ymap, mapped, out,
               private, bounds, heads, tails, first, count, offset):
    """Chunk c of a plan: head and tail events into their private planes, the rest into ``out``."""
    h = offset[c, 0]
    t = offset[c, 1]
    _scatter(mode, channels, ev, bounds[c], heads[c], starts, t0, windows, span, scale, xmap, ymap,
             mapped, private[h : h + count[c, 0]], first[c, 0])
    _scatter(mode, channels, ev, heads[c], tails[c], starts, t0, windows, span, scale, xmap, ymap,
             mapped, out, 0)
    _scatter(mode, channels, ev, tails[c], bounds[c + 1], starts, t0, windows, span, scale, xmap, ymap,
             mapped, private[t : t + count[c, 1]], first[c, 1])


@njit(nogil=True)
def _add_private(out, private, first, count, offset):
    for c in range(first.shape[0]):
        for end in range(2):
            for s in range(count[c, end]):
                out[first[c, end] + s] += private[offset[c, end] + s]


def accumulate(mode, channels, ev, starts, t0, windows, span, scale, xmap, ymap, mapped, out, chunks):
    """Scatter events ev[starts[0]:starts[-1]] into ``out`` (T*C, H', W') float32, zero-initialised.

    ev: the structured event array (fields t µs, x, y, p; see evfer.events.EVENT_DTYPE), read as
    records (faster than four strided field views).

    mode: VOXEL or HISTOGRAM. starts: (T+1,) int64 event index where each window begins (the last
    entry ends the last window). Voxel position inside window k is
    t* = ((t - t0) * windows - k * span) * scale with scale = (C - 1) / span (0 when span == 0),
    i.e. (C-1)(t - s_k)/(span/T) for the window start s_k = t0 + k span / T; the numerator is
    exact in int64 (no precision lost to large absolute timestamps), the product is float64.
    xmap/ymap: sensor x/y -> output column/row, -1 to drop (crop and resize); ``mapped`` False
    promises they are the identity (full sensor, no resize).

    ``chunks`` > 1 runs that many equal-count chunks in parallel threads (plain Python threads
    running GIL-free numba code: no OpenMP runtime, so safe in forked workers and from several
    threads at once). Chunk c touches planes lo..hi (monotone in c). Planes no other chunk touches
    (direct_lo..direct_hi) are written in place. Its first events (the head, lowest plane <
    direct_lo) can only touch planes lo..lo+2, its last ones (the tail, highest plane > direct_hi)
    only direct_hi..direct_hi+2: those go to at most 3 + 3 private planes, added to ``out``
    afterwards (so 2 threads add at most 6 planes, whatever T and C).
    """
    n = int(starts[-1] - starts[0])
    if n <= 0:
        return
    chunks = max(1, min(int(chunks), n))
    args = (mode, channels, ev, starts, t0, windows, span, scale)
    if chunks == 1:
        _scatter(mode, channels, ev, starts[0], starts[-1], starts, t0, windows, span, scale, xmap, ymap,
                 mapped, out, 0)
        return
    bounds, heads, tails, first, count, offset, total = _plan(*args, chunks)
    private = np.zeros((total,) + out.shape[1:], np.float32)
    plan = (bounds, heads, tails, first, count, offset)

    def work(c: int) -> None:
        _run_chunk(c, *args, xmap, ymap, mapped, out, private, *plan)

    _in_threads(work, chunks)
    _add_private(out, private, first, count, offset)


def _in_threads(work, n: int) -> None:
    """Run work(0..n-1), work(0) in this thread and the others in new threads; re-raise errors."""
    errors: list[BaseException] = []

    def guarded(c: int) -> None:
        try:
            work(c)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(c,), daemon=True) for c in range(1, n)]
    for th in threads:
        th.start()
    guarded(0)
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


@njit(nogil=True)
def search_times(ev, values, right):
    """np.searchsorted(ev["t"], values, side="right" if right else "left") without the copy numpy
    makes of the strided field (80 MB for 10 M events)."""
    out = np.empty(len(values), np.int64)
    for k in range(len(values)):
        v = values[k]
        a = 0
        b = len(ev)
        while a < b:
            m = (a + b) // 2
            if ev[m].t < v or (right and ev[m].t == v):
                a = m + 1
            else:
                b = m
        out[k] = a
    return out


def default_threads() -> int:
    """Threads to use: $EVFER_THREADS, else $NUMBA_NUM_THREADS, else the CPUs this process may use."""
    for var in ("EVFER_THREADS", "NUMBA_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_chunks(n_events: int) -> int:
    """Chunks (threads) worth using for ``n_events``: :func:`default_threads`, but one below ~100 k
    events, where starting a thread costs more than it saves. Worker processes of the job runner
    have ``EVFER_THREADS=1`` (their parallelism is over items)."""
    return max(1, min(default_threads(), n_events // 100_000))


@njit(nogil=True)
def normalize_inplace(v):
    """E2VID normalisation of a flat float32 array: non-zero entries -> (v - mean) / std, with
    mean and std (population) of the non-zero entries, computed in float64 in two passes. A std
    of 0 (all non-zero entries equal) divides by 1, so those entries become 0."""
    n = 0
    total = 0.0
    for i in range(v.size):
        if v[i] != 0:
            n += 1
            total += v[i]
    if n == 0:
        return
    mean = total / n
    sq = 0.0
    lo = np.inf
    hi = -np.inf
    for i in range(v.size):
        if v[i] != 0:
            d = v[i] - mean
            sq += d * d
            lo = min(lo, v[i])
            hi = max(hi, v[i])
    std = np.sqrt(sq / n) if hi > lo else 1.0
    inv = 1.0 / std
    for i in range(v.size):
        if v[i] != 0:
            v[i] = np.float32((v[i] - mean) * inv)
