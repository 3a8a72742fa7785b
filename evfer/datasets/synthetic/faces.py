"""Render grey face frames analytically, anti-aliased, from identity + sequence parameters.

Every shape is a signed distance (face units) turned into coverage with a one-pixel ramp
(``alpha = clip(0.5 - d * px, 0, 1)``), or a Gaussian profile. Coverage is a continuous function of
the shape parameters, so sub-pixel motion changes intensities smoothly: no aliasing flicker for the
DVS emulator, which fires on log-intensity changes. Textures attached to the head are sampled
bilinearly (``cv2.remap``). Small features are computed only inside their bounding boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .expressions import controls_at
from .params import IdentityParams, SequenceParams, noise_rng

_F32 = np.float32
_TEX = 96  # texture resolution (texels over the face-unit box below)
_TEX_BOX = (-2.0, 2.0, -2.2, 2.6)  # u0, u1, v0, v1 covered by the head textures


# ------------------------------------------------------------------------------------ scene


@dataclass
class Scene:
    """Per-identity images that do not change over a sequence (sizes in pixels, (H, W))."""

    width: int
    height: int
    background: np.ndarray  # (H, W) float32 grey levels
    light: np.ndarray  # (H, W) float32 multiplicative lighting
    texture: np.ndarray  # (_TEX, _TEX, 2) float32: skin, hair relative modulation
    xs: np.ndarray  # (W,) pixel-centre x
    ys: np.ndarray  # (H,) pixel-centre y


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: list[tuple]) -> np.ndarray:
    """Sum of bicubically upsampled white-noise octaves ((rows, cols, weight) each), (h, w) float32."""
    import cv2

    out = np.zeros((h, w), _F32)
    for rows, cols, weight in cells:
        g = rng.standard_normal((rows, cols)).astype(_F32)
        out += weight * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return out


def make_scene(ident: IdentityParams, width: int, height: int) -> Scene:
    rng = np.random.default_rng(ident.texture_seed)
    bg = _smooth_noise(rng, height, width, [(3, 3, 1.0), (6, 6, 0.6), (14, 14, 0.35)])
    bg = ident.background + ident.background_texture * bg / max(float(np.abs(bg).max()), 1e-6)
    xs = np.arange(width, dtype=_F32) + _F32(0.5)
    ys = np.arange(height, dtype=_F32) + _F32(0.5)
    gx = (xs - width / 2) / (width / 2)
    gy = (ys - height / 2) / (height / 2)
    ramp = math.cos(ident.light_angle) * gx[None, :] + math.sin(ident.light_angle) * gy[:, None]
    vignette = 1.0 - 0.08 * (gx[None, :] ** 2 + gy[:, None] ** 2)
    light = ((1.0 + ident.light_strength * ramp) * vignette).astype(_F32)
    skin = _smooth_noise(rng, _TEX, _TEX, [(8, 8, 1.0), (20, 20, 0.5)])
    hair = _smooth_noise(rng, _TEX, _TEX, [(6, 40, 1.0), (12, 90, 0.7)])  # streaks along x of texture
    hair = hair.T.copy()  # streaks run vertically on the head
    tex = np.stack([0.04 * skin / np.abs(skin).max(), ident.hair_texture * hair / np.abs(hair).max()], -1)
    return Scene(width, height, bg.astype(_F32), light, tex.astype(_F32), xs, ys)


# ------------------------------------------------------------------------------------ frame canvas


class Canvas:
    """One frame being drawn: grey levels plus the face coordinates (u, v) of every pixel."""

    def __init__(self, scene: Scene, cx: float, cy: float, px: float, roll_deg: float):
        self.img = scene.background.copy()
        self.px = float(px)  # pixels per face unit
        self.cx, self.cy = cx, cy
        self.c, self.s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
        dx = (scene.xs - cx)[None, :]
        dy = (scene.ys - cy)[:, None]
        self.u = ((dx * self.c + dy * self.s) / self.px).astype(_F32)
        self.v = ((dy * self.c - dx * self.s) / self.px).astype(_F32)
        self.h, self.w = self.img.shape

    def box(self, u0: float, u1: float, v0: float, v1: float) -> tuple[slice, slice] | None:
        """Pixel window covering the face-unit box [u0,u1] x [v0,v1] (plus 2 px), None if off-image."""
        us = np.array([u0, u1, u0, u1])
        vs = np.array([v0, v0, v1, v1])
        x = self.cx + self.px * (us * self.c - vs * self.s)
        y = self.cy + self.px * (us * self.s + vs * self.c)
        x0, x1 = max(int(x.min()) - 2, 0), min(int(math.ceil(x.max())) + 2, self.w)
        y0, y1 = max(int(y.min()) - 2, 0), min(int(math.ceil(y.max())) + 2, self.h)
        if x0 >= x1 or y0 >= y1:
            return None
        return slice(y0, y1), slice(x0, x1)

    def cover(self, d: np.ndarray) -> np.ndarray:
        """Coverage of the shape with signed distance ``d`` (face units, < 0 inside)."""
        return np.clip(_F32(0.5) - d * _F32(self.px), _F32(0), _F32(1))

    def paint(self, win: tuple[slice, slice], alpha: np.ndarray, value) -> None:
        dst = self.img[win]
        dst += alpha * (value - dst)


def _ellipse_sd(u: np.ndarray, v: np.ndarray, a: float, b: float) -> np.ndarray:
    """Approximate signed distance to the ellipse u²/a² + v²/b² = 1 (exact on the axes)."""
    k0 = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    k1 = np.sqrt((u / (a * a)) ** 2 + (v / (b * b)) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def _segment_dist(u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    bax, bay = b[0] - a[0], b[1] - a[1]
    pu, pv = u - a[0], v - a[1]
    h = np.clip((pu * bax + pv * bay) / (bax * bax + bay * bay), 0.0, 1.0)
    return np.sqrt((pu - h * bax) ** 2 + (pv - h * bay) ** 2)


def _gauss(u, v, cu, cv, su, sv):
    return np.exp(-(((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2) * 0.5)


# ------------------------------------------------------------------------------------ face parts


def _head(cv: Canvas, idn: IdentityParams, ctl: dict, tex: np.ndarray) -> None:
    """Back hair, neck, shirt, ears, face, front hair (regions covering most of the frame)."""
    import cv2

    full = (slice(0, cv.h), slice(0, cv.w))
    u, v = cv.u, cv.v
    u0, u1, v0, v1 = _TEX_BOX
    mapx = (u - u0) * _F32(_TEX / (u1 - u0))
    mapy = (v - v0) * _F32(_TEX / (v1 - v0))
    t = cv2.remap(tex, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    t_skin, t_hair = t[..., 0], t[..., 1]
    jaw = float(ctl["jaw"])
    b_low = idn.face_b * (1.0 + 0.1 * jaw)
    bald = idn.hairline < -1.3
    hair_col = idn.hair * (1.0 + t_hair)
    if not bald:  # hair behind the head
        if idn.long_hair:
            d = _ellipse_sd(u, v - (idn.face_cy + 0.1), 1.2, idn.face_b + 0.3)
        else:
            d = _ellipse_sd(u, v - (idn.face_cy - 0.22), 1.07, idn.face_b * 0.97)
        cv.paint(full, cv.cover(d), hair_col)
    # neck and shirt
    neck_top = idn.face_cy + 0.4
    d = np.maximum(np.abs(u) - 0.5, neck_top - v)
    cv.paint(full, cv.cover(d), idn.skin * 0.8 * (1.0 + t_skin) * (1.0 - 0.25 * np.minimum(u * u * 4, 1.0)))
    collar = idn.face_cy + idn.face_b + 0.4
    d = (collar + 0.25 * np.minimum(u * u, 4.0) - np.abs(u) * 0.1) - v
    cv.paint(full, cv.cover(d), idn.shirt * (1.0 + 0.5 * t_skin))
    # ears
    for side in (-1, 1):
        es = idn.ear_size
        win = cv.box(side * 0.98 - 0.2, side * 0.98 + 0.2, idn.eye_y - 0.1, idn.eye_y + 0.6)
        if win:
            uu, vv = cv.u[win], cv.v[win]
            d = _ellipse_sd(uu - side * 0.97, vv - (idn.eye_y + 0.25), 0.12 * es, 0.22 * es)
            cv.paint(win, cv.cover(d), idn.skin * 0.85)
    # face: an egg, wider at the cheeks, with a tapering jaw that drops with `jaw`
    dv = v - idn.face_cy
    lower = np.clip(dv / b_low, 0.0, 1.0)
    a = 1.0 - idn.jaw_taper * lower * lower
    b = np.where(dv > 0, _F32(b_low), _F32(idn.face_b))
    d = _ellipse_sd(u / a, dv, 1.0, b) * a
    r2 = np.minimum((u / a) ** 2 + (dv / b) ** 2, 1.0)
    cv.paint(full, cv.cover(d), idn.skin * (1.0 - idn.shading * r2 * r2) * (1.0 + t_skin))
    if not bald:  # hair on top of the face, down to the hairline (lower at the temples)
        hl = idn.hairline + idn.hairline_curve * u * u + 0.9 * np.clip((np.abs(u) - 0.78) / 0.2, 0.0, 1.0)
        d = np.maximum(_ellipse_sd(u, v - (idn.face_cy - 0.12), 1.06, idn.face_b + 0.08), v - hl)
        cv.paint(full, cv.cover(d), hair_col)


def _hairline(idn: IdentityParams, u: np.ndarray) -> np.ndarray:
    return idn.hairline + idn.hairline_curve * u * u


def _forehead_and_cheeks(cv: Canvas, idn: IdentityParams, ctl: dict) -> None:
    f = float(ctl["forehead"])
    top = idn.eye_y - idn.brow_gap
    if f > 1e-3:  # horizontal forehead wrinkles, fading out under the hair
        win = cv.box(-0.6, 0.6, top - 0.5, top - 0.1)
        if win:
            u, v = cv.u[win], cv.v[win]
            for k, dy in enumerate((0.19, 0.3, 0.41)):
                line = top - dy + 0.08 * u * u
                w = np.exp(-(((v - line) / 0.024) ** 2)) * np.clip(1.0 - (np.abs(u) / 0.55) ** 4, 0.0, 1.0)
                w *= np.clip((_hairline(idn, u) - v) * 20.0, 0.0, 1.0)
                cv.paint(win, w * _F32(0.45 * f * (1.0 - 0.2 * k)), idn.skin * 0.45)
    for side, i in ((-1, 0), (1, 1)):  # cheeks: a highlight that rises and brightens
        c = float(ctl["cheek"][i])
        cu, cy = side * 0.5, idn.nose_y - 0.02 - 0.08 * c
        win = cv.box(cu - 0.4, cu + 0.4, cy - 0.35, cy + 0.35)
        if win:
            u, v = cv.u[win], cv.v[win]
            g = _gauss(u, v, cu, cy, 0.15, 0.11)
            cv.img[win] *= 1.0 + (0.05 + 0.14 * c) * g


def _brows(cv: Canvas, idn: IdentityParams, ctl: dict) -> None:
    base = idn.eye_y - idn.brow_gap
    for side, i in ((-1, 0), (1, 1)):
        qi = idn.eye_x - idn.brow_len - float(ctl["brow_in_dx"][i])
        qo = idn.eye_x + idn.brow_len
        lo, hi = sorted((side * qi, side * qo))
        win = cv.box(lo - 0.08, hi + 0.08, base - 0.25, base + 0.2)
        if not win:
            continue
        u, v = cv.u[win], cv.v[win]
        q = u * side
        tau = np.clip((q - qi) / (qo - qi), 0.0, 1.0)
        arch = idn.brow_arch + float(ctl["brow_arch"])
        y = base + ctl["brow_in_dy"][i] * (1 - tau) + ctl["brow_out_dy"][i] * tau - arch * 4 * tau * (1 - tau)
        half = idn.brow_thick * (0.62 - 0.3 * tau)
        d = np.maximum(np.abs(v - y) - half, np.maximum(qi - q, q - qo))
        cv.paint(win, cv.cover(d) * _F32(0.92), idn.skin * idn.brow_dark)
    g = float(ctl["glabella"])
    if g > 1e-3:  # vertical frown lines between the brows
        win = cv.box(-0.15, 0.15, base - 0.1, base + 0.2)
        if win:
            u, v = cv.u[win], cv.v[win]
            w = np.zeros_like(u)
            for side in (-1, 1):
                dist = _segment_dist(u, v, (side * 0.045, base - 0.02), (side * 0.06, base + 0.13))
                w = np.maximum(w, np.exp(-((dist / 0.024) ** 2)))
            cv.paint(win, w * _F32(0.55 * g), idn.skin * 0.45)


def _eyes(cv: Canvas, idn: IdentityParams, ctl: dict, blink: float) -> None:
    for side, i in ((-1, 0), (1, 1)):
        ex0 = side * idn.eye_x
        win = cv.box(ex0 - 0.3, ex0 + 0.3, idn.eye_y - 0.28, idn.eye_y + 0.22)
        if not win:
            continue
        u, v = cv.u[win], cv.v[win]
        ex = (u - ex0) * side  # > 0 towards the outer corner
        ey = v - idn.eye_y + idn.eye_tilt * ex
        cv.img[win] *= 1.0 - 0.13 * _gauss(ex, ey, 0.0, -0.03, 0.2, 0.12)  # socket shadow
        ew = idn.eye_w
        g = np.clip(1.0 - (ex / ew) ** 2, 0.0, 1.0)
        up = idn.eye_up * max(1.0 + float(ctl["lid_up"][i]), 0.05) * (1.0 - blink)
        dn = idn.eye_dn * max(1.0 + float(ctl["lid_dn"][i]), 0.05) * (1.0 - 0.25 * blink)
        top, bot = -up * g, dn * g
        a_open = cv.cover(np.maximum(np.maximum(top - ey, ey - bot), np.abs(ex) - ew))
        iris_c = -0.004
        rr = np.sqrt(ex * ex + (ey - iris_c) ** 2)
        a_iris = cv.cover(rr - idn.iris_r)
        a_pupil = cv.cover(rr - idn.iris_r * 0.42)
        col = idn.sclera + a_iris * (idn.iris - idn.sclera) + a_pupil * (idn.iris * 0.35 - idn.iris)
        cv.paint(win, a_open, col)
        lash = np.maximum(np.abs(ey - top) - 0.013, np.abs(ex) - ew * 1.03)
        cv.paint(win, cv.cover(lash) * _F32(0.85), min(idn.skin * 0.3, 40.0))
        crease = -(0.045 + 0.75 * up + 0.2 * idn.eye_up) * np.clip(1.0 - (ex / (ew * 1.1)) ** 2, 0.0, 1.0)
        w = np.exp(-(((ey - crease) / 0.012) ** 2)) * (np.abs(ex) < ew)
        cv.paint(win, w * _F32(0.3), idn.skin * 0.55)
        low = np.exp(-(((ey - bot - 0.012) / 0.01) ** 2)) * (np.abs(ex) < ew * 0.9)
        cv.paint(win, low * _F32(0.2), idn.skin * 0.6)


def _nose(cv: Canvas, idn: IdentityParams, ctl: dict) -> None:
    ny = idn.nose_y
    win = cv.box(-0.3, 0.3, idn.eye_y, ny + 0.12)
    if not win:
        return
    u, v = cv.u[win], cv.v[win]
    side = 1.0 if math.cos(idn.light_angle) < 0 else -1.0  # shadow on the side away from the light
    dist = _segment_dist(u, v, (side * 0.07, idn.eye_y + 0.08), (side * 0.11, ny - 0.06))
    cv.img[win] *= 1.0 - 0.12 * np.exp(-((dist / 0.04) ** 2))
    cv.img[win] *= 1.0 + 0.08 * _gauss(u, v, 0.0, ny - 0.07, 0.05, 0.04)  # tip highlight
    cv.img[win] *= 1.0 - 0.12 * _gauss(u, v, 0.0, ny + 0.06, 0.12, 0.03)  # shadow under the nose
    for s in (-1, 1):
        d = _ellipse_sd(u - s * idn.nostril_x, v - ny, 0.042, 0.022)
        cv.paint(win, cv.cover(d) * _F32(0.8), idn.skin * 0.35)


def _mouth_geometry(idn: IdentityParams, ctl: dict) -> dict:
    jaw = float(ctl["jaw"])
    return {
        "y": idn.mouth_y + 0.05 * jaw,
        "w": [idn.mouth_w * (1.0 + float(ctl["mouth_width"][i])) for i in (0, 1)],
        "corner": [idn.mouth_rest + float(ctl["corner_dy"][i]) for i in (0, 1)],
        "open": float(ctl["mouth_open"]),
    }


def _folds(cv: Canvas, idn: IdentityParams, ctl: dict) -> None:
    m = _mouth_geometry(idn, ctl)
    for side, i in ((-1, 0), (1, 1)):
        depth = 0.12 + 0.45 * float(ctl["fold"][i])
        top = (side * (idn.nostril_x + 0.1), idn.nose_y - 0.04)
        mid = (side * (m["w"][i] + 0.06), m["y"] + m["corner"][i] - 0.03)
        end = (side * (m["w"][i] + 0.05), m["y"] + m["corner"][i] + 0.1)
        win = cv.box(min(top[0], mid[0]) - 0.1, max(top[0], mid[0]) + 0.1, top[1] - 0.1, end[1] + 0.1)
        if not win:
            continue
        u, v = cv.u[win], cv.v[win]
        dist = np.minimum(_segment_dist(u, v, top, mid), _segment_dist(u, v, mid, end))
        cv.img[win] *= 1.0 - depth * 0.6 * np.exp(-((dist / 0.03) ** 2))


def _mouth(cv: Canvas, idn: IdentityParams, ctl: dict) -> None:
    m = _mouth_geometry(idn, ctl)
    wl, wr = m["w"]
    lt = max(1.0 + float(ctl["lip_thick"]), 0.1)
    win = cv.box(-wl - 0.12, wr + 0.12, m["y"] - 0.2, m["y"] + m["open"] + 0.25)
    if not win:
        return
    u, v = cv.u[win], cv.v[win]
    right = u >= 0
    n = u / np.where(right, _F32(wr), _F32(wl))  # -1 .. 1 between the corners
    corner = np.where(right, _F32(m["corner"][1]), _F32(m["corner"][0]))
    k = np.sqrt(np.clip(1.0 - n * n, 0.0, 1.0))
    yc = m["y"] + corner * n * n
    gap = m["open"] * k
    top_in = yc - 0.3 * gap - 0.008 * k
    bot_in = yc + 0.7 * gap + 0.008 * k
    top_out = top_in - idn.lip_up * lt * (0.2 + 0.8 * k)
    bot_out = bot_in + (idn.lip_dn * lt * (0.2 + 0.8 * k)) - float(ctl["pout"]) * k
    ends = (np.abs(n) - 1.0) * np.where(right, _F32(wr), _F32(wl))
    # shadow under the lower lip (chin crease)
    cv.img[win] *= 1.0 - 0.12 * np.exp(-(((v - bot_out - 0.05) / 0.03) ** 2)) * k
    lips = cv.cover(np.maximum(np.maximum(top_out - v, v - bot_out), ends + 0.01))
    cv.paint(win, lips, idn.skin * idn.lip_dark * (1.0 - 0.1 * (v > yc)))
    inner = cv.cover(np.maximum(np.maximum(top_in - v, v - bot_in), ends))
    teeth = float(ctl["teeth"])
    col = _F32(28.0)
    if teeth > 1e-3:
        a_t = cv.cover(np.maximum(v - (top_in + 0.45 * gap), np.abs(n) - 0.8))
        col = col + a_t * _F32(teeth * 170.0)
    cv.paint(win, inner * _F32(0.92), col)
    for side, i in ((-1, 0), (1, 1)):  # dimples at the corners
        cu, cy = side * m["w"][i], m["y"] + m["corner"][i]
        cv.img[win] *= 1.0 - 0.3 * _gauss(u, v, cu, cy, 0.018, 0.018)


# ------------------------------------------------------------------------------------ sequence


def _motion(seq: SequenceParams, t: float) -> np.ndarray:
    """Head offsets at ``t`` s (dx, dy as fractions of min(W, H), roll deg, relative scale), 0 at t=0."""
    out = np.zeros(4)
    for c in range(4):
        (f1, f2), (p1, p2) = seq.motion_freq[c], seq.motion_phase[c]
        val = math.sin(2 * math.pi * f1 * t + p1) + math.sin(2 * math.pi * f2 * t + p2)
        out[c] = seq.motion_amp[c] * 0.5 * (val - math.sin(p1) - math.sin(p2))
    return out


def blink_closure(seq: SequenceParams, t: float, duration: float) -> float:
    """Eyelid closure 0..1 at ``t`` s; blink centres are placed so that the first frame is open."""
    closure = 0.0
    for frac, length, depth in seq.blinks:
        half = length / 2
        centre = half + frac * max(duration - half, 0.0)
        x = (t - centre) / half
        if abs(x) < 1:
            closure = max(closure, depth * math.cos(x * math.pi / 2) ** 2)
    return closure


def render_frames(
    idn: IdentityParams,
    seq: SequenceParams,
    size: tuple[int, int],
    *,
    n_frames: int | None = None,
    fps: float = 30.0,
    distractors: bool = True,
    noise: bool = True,
    timecode: bool = False,
    noise_seed: tuple[int, int] | None = None,
) -> np.ndarray:
    """Frames (N, H, W) uint8 of ``seq`` for ``idn`` at ``size`` = (W, H) pixels, ``fps`` frames/s.

    ``distractors=False`` removes blinks, head motion and lighting drift (for tests); ``noise=False``
    the sensor noise. ``noise_seed`` = (seed, identity) selects the noise stream.
    """
    width, height = size
    n = seq.n_frames if n_frames is None else int(n_frames)
    if n < 2:
        raise ValueError(f"a sequence needs at least 2 frames, got {n}")
    scene = make_scene(idn, width, height)
    short = min(width, height)
    duration = (n - 1) / fps
    nrng = noise_rng(*(noise_seed or (0, 0)), seq.expression) if noise else None
    out = np.empty((n, height, width), np.uint8)
    for k in range(n):
        t = k / fps
        tau = k / (n - 1)
        ctl = controls_at(seq, tau)
        mot = _motion(seq, t) if distractors else np.zeros(4)
        blink = blink_closure(seq, t, duration) if distractors else 0.0
        cx = idn.center[0] * width + mot[0] * short
        cy = idn.center[1] * height + mot[1] * short
        px = idn.scale * short * (1.0 + mot[3] + float(ctl["head_scale"]))
        cv = Canvas(scene, cx, cy, px, idn.roll_deg + mot[2] + float(ctl["roll"]))
        _head(cv, idn, ctl, scene.texture)
        _forehead_and_cheeks(cv, idn, ctl)
        _brows(cv, idn, ctl)
        _eyes(cv, idn, ctl, blink)
        _nose(cv, idn, ctl)
        _folds(cv, idn, ctl)
        _mouth(cv, idn, ctl)
        img = cv.img * scene.light
        if distractors:
            img *= _F32(1.0 + seq.light_drift * tau)
        if nrng is not None:
            img += nrng.standard_normal(img.shape, dtype=_F32) * _F32(seq.noise)
        frame = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        if timecode:
            burn_timecode(frame, seq.timecode_start + k, fps)
        out[k] = frame
    return out


def burn_timecode(frame: np.ndarray, frame_number: int, fps: float) -> None:
    """Draw a CK+-like running timecode ``HH:MM:SS:FF`` in white, lower-left corner, in place.

    It fits inside the lower 12 % and left 45 % of the frame (where CK+'s timecode sits).
    """
    import cv2

    h, w = frame.shape
    rate = max(int(round(fps)), 1)
    f = frame_number % rate
    s = frame_number // rate
    text = f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{f:02d}"
    font = cv2.FONT_HERSHEY_PLAIN
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = min(0.45 * w / tw, 0.08 * h / th)
    margin = max(int(0.02 * h), 1)
    cv2.putText(frame, text, (margin, h - margin - 1), font, scale, 255, 1, cv2.LINE_AA)
