"""``kind: recordings``: a CSV of labelled event files in any format, segments and boxes per row,
density boxes otherwise, bad rows reported, and the whole prepare on it."""

from __future__ import annotations

import numpy as np
import pytest

from evfer.datasets.kinds import make_source, source_config
from evfer.errors import ConfigError, InputError
from evfer.io import read_events, write_events
from evfer.testing import blob_events

BOX = (200, 100, 120, 120)


@pytest.fixture
def lab(tmp_path):
    """Three recordings of a 'face' blob on a 640x480 sensor, in three formats, and their CSV."""
    files = {}
    for k, name in enumerate(("p1_happy.raw", "p2_sad.h5", "p3_happy.npz")):
        ev = blob_events(BOX, 4000, 400, 640, 480, duration=500_000, seed=k)
        files[name] = write_events(tmp_path / "rec" / name, ev)
    (tmp_path / "labels.csv").write_text(
        "path,subject,label,t_start_us,t_end_us,box\n"
        "rec/p1_happy.raw,p1,happy,,,\n"
        "rec/p2_sad.h5,p2,sad,100000,300000,\"190 90 140 140\"\n"
        "rec/p3_happy.npz,p3,happiness,,,\n"
        "rec/missing.raw,p4,happy,,,\n"
        "rec/p1_happy.raw,p5,happy,300,200,\n"
        "rec/p1_happy.raw,p6,,,,\n"
    )
    return tmp_path, files


def test_rows_become_clips_and_bad_rows_are_reported(lab):
    root, files = lab
    source = make_source(source_config("recordings", root, csv="labels.csv"))
    scan = source.scan(progress=False)
    assert [(s.subject, s.original_label) for s in scan.specs] == [
        ("p1", "happiness"), ("p2", "sadness"), ("p3", "happiness")]
    reasons = sorted(k.reason for k in scan.skipped)
    assert len(reasons) == 3 and "empty label" in reasons
    assert any("no such recording" in r for r in reasons) and any("not after t_start_us" in r for r in reasons)

    seg = source.clip(scan.specs[1])  # given box and segment
    ev = read_events(files["p2_sad.h5"])
    keep = (ev.t >= 100_000) & (ev.t < 300_000) & (ev.x >= 190) & (ev.x < 330) & (ev.y >= 90) & (ev.y < 230)
    assert seg.crop.method == "given" and seg.events.sensor_size == (140, 140)
    assert np.array_equal(seg.events.t, ev.t[keep]) and np.array_equal(seg.events.x, ev.x[keep] - 190)
    assert seg.span_us == (100_000, 299_999)

    dens = source.clip(scan.specs[0])  # no box: event density; the default box (0.45 x 480 = 216 px)
    x, y, w, h = dens.crop.box  # holds the whole 120-px blob
    assert dens.crop.method == "density" and (w, h) == (216, 216)
    assert x <= BOX[0] and x + w >= BOX[0] + BOX[2] and y <= BOX[1] and y + h >= BOX[1] + BOX[3]


def test_prepare_on_labelled_recordings(lab, tmp_path):
    from evfer.configure import load_config
    from evfer.datasets.prepare import prepare

    root, _ = lab
    cfg = tmp_path / "r.yaml"
    cfg.write_text(f"""
data:
  sources: [{{kind: recordings, root: {root}, csv: labels.csv, box_size: [120, 120]}}]
  out: {tmp_path / 'out'}
  workers: 1
  split: {{fractions: [0.34, 0.33, 0.33]}}
voxel: {{bins: 2, windows: 2, size: [16, 16]}}
""")
    result = prepare(load_config(cfg), progress=False)
    assert len(result.records) == 3 and {r.subject for r in result.records} == {
        "recordings:p1", "recordings:p2", "recordings:p3"}
    assert len({r.split for r in result.records}) == 3  # one subject per split
    assert result.summary["skipped_per_source"]["recordings"]


def test_doubtful_geometry_is_refused_unless_a_sensor_size_is_given(tmp_path):
    """A file that states no sensor size, with a few events far out (a flipped byte): prepare must
    not invent a 14405-pixel-wide sensor."""
    ev = blob_events(BOX, 3000, 0, 640, 480, seed=1)
    t, x, y, p = ev.t.copy(), ev.x.astype(np.int64), ev.y.copy(), ev.p.copy()
    x[5] = 14404
    np.savez(tmp_path / "odd.npz", t=t, x=x, y=y, p=p)  # no width/height arrays
    (tmp_path / "recordings.csv").write_text("path,subject,label\nodd.npz,p1,happy\n")  # the default name
    source = make_source(source_config("recordings", tmp_path))
    (spec,) = source.scan(progress=False).specs
    with pytest.raises(InputError, match=r"odd\.npz: .*doubtful"):
        source.clip(spec)
    sized = make_source(source_config("recordings", tmp_path, sensor_size=[16384, 480]))
    assert len(sized.clip(spec).events) > 2000
    with pytest.raises(ConfigError, match="sensor_size"):
        source_config("recordings", tmp_path, sensor_size=[0, 3])
