"""OV<->BEV conventions, anchor encoding and class tables of the Sparse4D core."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import (
    bev_to_ov_boxes,
    box_corners_ov,
    decode_anchors,
    encode_anchors,
    ov_to_bev_boxes,
    wrap_angle,
)


def test_ov_bev_round_trip_and_yaw_sign():
    ov = np.array([[1.0, 2.0, 0.9, 0.6, 0.5, 1.8, 0.3, 0.1, -0.2, 0.0]])
    bev = ov_to_bev_boxes(ov, origin_xy=(10.0, -5.0))
    # TAO data service: BEV yaw = -OV yaw, x/y minus the group origin, sizes/z/velocity unchanged.
    assert bev[0, 6] == pytest.approx(-0.3)
    assert bev[0, 0] == pytest.approx(-9.0) and bev[0, 1] == pytest.approx(7.0)
    np.testing.assert_allclose(bev[0, 2:6], ov[0, 2:6])
    np.testing.assert_allclose(bev[0, 7:], ov[0, 7:])
    np.testing.assert_allclose(bev_to_ov_boxes(bev, origin_xy=(10.0, -5.0)), ov, atol=1e-12)


def test_anchor_encoding_round_trip():
    rng = np.random.default_rng(0)
    boxes = np.column_stack([rng.normal(size=(5, 3)), rng.uniform(0.2, 3, (5, 3)), rng.uniform(-np.pi, np.pi, 5),
                             rng.normal(size=(5, 3))])
    a = encode_anchors(boxes)
    assert a.shape == (5, C.ANCHOR_DIM) and a.dtype == np.float32
    np.testing.assert_allclose(a[:, C.W], np.log(boxes[:, 3]), rtol=1e-6)
    np.testing.assert_allclose(a[:, C.SIN_YAW] ** 2 + a[:, C.COS_YAW] ** 2, 1.0, rtol=1e-6)
    back = decode_anchors(a)
    np.testing.assert_allclose(back[:, :6], boxes[:, :6], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wrap_angle(back[:, 6] - boxes[:, 6]), 0.0, atol=1e-5)


def test_ov_box_axes():
    # yaw = +90 deg: the width (local x) now lies along world y.
    corners = box_corners_ov(np.array([[0.0, 0.0, 1.0, 4.0, 1.0, 2.0, np.pi / 2]]))[0]
    assert np.ptp(corners[:, 1]) == pytest.approx(4.0)
    assert np.ptp(corners[:, 0]) == pytest.approx(1.0)
    assert corners[:4, 2].max() == pytest.approx(0.0) and corners[4:, 2].min() == pytest.approx(2.0)


def test_class_names_and_aliases():
    assert C.CLASS_NAMES[0] == "Person" and len(C.CLASS_NAMES) == 7
    assert C.canonical_class_name("gr1_t2") == "Fourier_GR1_T2_Humanoid"
    assert C.canonical_class_name("NovaCarter") == "Nova_Carter"
    assert C.canonical_class_name("pallet_truck") == "Pallet_Truck"
    assert C.canonical_class_name("spaceship") is None
    # AI City submission ids of the 2025 page.
    assert [C.AIC_CLASS_IDS[n] for n in ("Person", "Forklift", "NovaCarter", "Transporter", "FourierGR1T2",
                                         "AgilityDigit")] == [0, 1, 2, 3, 4, 5]


def test_contract_class_order_matches():
    contract_mod = pytest.importorskip("hoi_perception.engine.contract")
    contract = contract_mod.load_contract("sparse4d")
    names = contract.conventions.get("classes")
    if names:
        assert [C.canonical_class_name(n) for n in names] == list(C.CLASS_NAMES)
