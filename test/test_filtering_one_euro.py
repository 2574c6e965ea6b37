"""One-Euro filter (issue 11 point 8): DeepStream's recurrence, jitter reduction, lag, timestamps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hoi_perception.filtering import OneEuroFilter, OneEuroParams
from hoi_perception.filtering.one_euro import DS_KEYPOINT_XY, DS_KEYPOINT_ZREL, DS_ROOT_DEPTH


def _ds_reference(xs: list[float], rate: float, min_cutoff: float, beta: float, d_cutoff: float) -> list[float]:
    """DeepStream's OneEuroFilter::filter written out by hand (deepstream_pose_estimation_app.cpp)."""
    def alpha(c: float) -> float:
        return c / (rate / (2 * math.pi) + c)

    out, x_prev, dx_prev = [], None, 0.0
    for x in xs:
        if x_prev is None:
            dx = 0.0
            dx_prev = dx
            x_prev = x
            out.append(x)
            continue
        dx = (x - x_prev) * rate
        dx_prev = alpha(d_cutoff) * dx + (1 - alpha(d_cutoff)) * dx_prev
        cutoff = min_cutoff + beta * abs(dx_prev)
        x_prev = alpha(cutoff) * x + (1 - alpha(cutoff)) * x_prev
        out.append(x_prev)
    return out


def test_matches_deepstream_recurrence():
    xs = [100.0, 101.5, 99.0, 104.0, 110.0, 109.0, 111.5]
    for p in (DS_KEYPOINT_XY, DS_KEYPOINT_ZREL, DS_ROOT_DEPTH, OneEuroParams(1.0, 0.7, 1.0, 60.0)):
        f = OneEuroFilter(p)
        got = [float(f(x)) for x in xs]
        np.testing.assert_allclose(got, _ds_reference(xs, p.rate_hz, p.min_cutoff_hz, p.beta, p.d_cutoff_hz),
                                   rtol=1e-12)


def test_first_sample_passes_and_constant_stays():
    f = OneEuroFilter(DS_KEYPOINT_XY)
    x = np.array([[3.0, -2.0], [5.0, 7.0]])
    np.testing.assert_array_equal(f(x), x)
    for _ in range(5):
        np.testing.assert_allclose(f(x), x)


def test_reduces_jitter_and_beta_reduces_lag():
    rng = np.random.default_rng(0)
    noisy = 100.0 + rng.normal(0.0, 2.0, 300)
    f = OneEuroFilter(DS_KEYPOINT_XY)
    out = np.array([float(f(v)) for v in noisy])
    assert out[30:].std() < 0.5 * noisy[30:].std()
    ramp = np.arange(60, dtype=float) * 5.0  # 150 px/s at 30 Hz
    slow, fast = OneEuroFilter(OneEuroParams(0.1, 0.0, 1.0)), OneEuroFilter(OneEuroParams(0.1, 0.5, 1.0))
    lag_slow = ramp[-1] - [float(slow(v)) for v in ramp][-1]
    lag_fast = ramp[-1] - [float(fast(v)) for v in ramp][-1]
    assert lag_fast < 0.5 * lag_slow


def test_timestamps_set_the_rate():
    # Same samples at 30 Hz stamps == no stamps (rate_hz 30); at 15 Hz stamps the filter follows faster.
    xs = [0.0, 1.0, 2.0, 3.0]
    a, b, c = (OneEuroFilter(DS_KEYPOINT_XY) for _ in range(3))
    plain = [float(a(x)) for x in xs]
    at30 = [float(b(x, k / 30.0)) for k, x in enumerate(xs)]
    at15 = [float(c(x, k / 15.0)) for k, x in enumerate(xs)]
    np.testing.assert_allclose(at30, plain, rtol=1e-9)
    assert at15[-1] > at30[-1]


def test_bad_parameters_raise():
    with pytest.raises(ValueError):
        OneEuroParams(min_cutoff_hz=0.0)
    with pytest.raises(ValueError):
        OneEuroParams(beta=-1.0)
