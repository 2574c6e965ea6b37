"""Render-Localize-Lift pieces: the z-buffer rasteriser, the reference's cameras and normalisation, exact
lifting of painted masks, the stand-in and the ONNX test model behind the engine interface, body models."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hoi_perception.contacts.body_mesh import vitruvian_capsule_body
from hoi_perception.contacts.geometric import hand_part_of_vertices
from hoi_perception.engine import create_engine, load_contract
from hoi_perception.engine.test_models import make_test_model
from hoi_perception.interactvlm.body_models import load_body_model
from hoi_perception.interactvlm.pipeline import (
    BODY_VIEWS,
    EmbeddingTable,
    ProximityPainterStandIn,
    RenderLocalizeLift,
    lift_masks,
    normalize_cam_params,
    paint_masks,
    render_views,
)
from hoi_perception.interactvlm.raster import fov_intrinsics, look_at_camera, rasterize
from hoi_perception.scene.meshes import box_mesh


def test_rasterizer_triangle_coverage_depth_and_barycentrics() -> None:
    k = fov_intrinsics(128)
    v = np.array([[-0.5, -0.5, 2.0], [0.5, -0.5, 2.0], [-0.5, 0.5, 2.0], [0.5, 0.5, 4.0]])
    f = np.array([[0, 1, 2], [1, 3, 2]])
    fr = rasterize(v, f, k, 128, 128)
    # the first triangle is a right triangle of legs 0.5 m * fx / 2 m in pixels
    legs = 1.0 * k[0, 0] / 2.0
    assert abs(np.count_nonzero(fr.face == 0) - legs * legs / 2) < legs * 1.5
    hit = fr.face >= 0
    assert np.allclose(fr.bary[hit].sum(1), 1.0, atol=1e-5) and np.all(fr.bary[hit] >= -1e-6)
    assert fr.depth[hit].min() >= 2.0 - 1e-6 and fr.depth[hit].max() <= 4.0 + 1e-6
    # barycentric reconstruction of the 3D point reprojects onto its pixel
    rows, cols = np.nonzero(hit)
    tri = f[fr.face[hit]]
    p = np.sum(v[tri] * fr.bary[hit][..., None], axis=1)
    uv = p[:, :2] / p[:, 2:] * k[0, 0] + 64
    assert np.max(np.abs(uv - np.column_stack([cols + 0.5, rows + 0.5]))) < 1e-3


def test_rasterizer_keeps_the_nearest_surface() -> None:
    k = fov_intrinsics(64)
    quad = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0.0]])
    f = np.array([[0, 1, 2], [0, 2, 3]])
    near, far = quad + [0, 0, 2.0], quad + [0, 0, 3.0]
    fr = rasterize(np.concatenate([far, near]), np.concatenate([f, f + 4]), k, 64, 64)
    assert set(np.unique(fr.face[fr.face >= 0])) == {2, 3}


def test_look_at_matches_pytorch3d_convention() -> None:
    # azimuth 0, elevation 0: camera on +z looking at the origin; world +y is up in the image
    t = look_at_camera(2.0, 0.0, 0.0)
    assert np.allclose(t[:3, :3] @ [0, 0, 0] + t[:3, 3], [0, 0, 2.0])
    up = t[:3, :3] @ [0, 1.0, 0]
    assert up[1] < -0.99  # optical y points down
    # elevation 45: camera above, at distance 2
    t = look_at_camera(2.0, 45.0, 315.0)
    centre = -t[:3, :3].T @ t[:3, 3]
    assert np.linalg.norm(centre) == pytest.approx(2.0) and centre[1] == pytest.approx(2 * math.sin(math.pi / 4))
    assert np.allclose(normalize_cam_params((2.0, 315.0, 135.0, 0.0, 0.3)), [0.2, 0.875, 0.375, 0.5, 0.65])


def test_lift_of_painted_masks_is_exact_on_visible_vertices() -> None:
    body = vitruvian_capsule_body()
    views = render_views(body.vertices, body.faces, np.full((len(body.vertices), 3), 0.5), BODY_VIEWS, 256)
    visible = np.zeros(len(body.vertices), dtype=bool)
    for p2v in views.pixel_vertices:
        visible[np.unique(p2v[p2v >= 0])] = True
    contact = (hand_part_of_vertices(body.vertex_part) >= 0).astype(float)
    scores = lift_masks(paint_masks(views, contact), views)
    lifted = scores > 0.3
    assert not np.any(lifted & (contact == 0) & ~_face_neighbours(body, contact)), "only contact faces light up"
    recall = np.count_nonzero(lifted & (contact > 0)) / np.count_nonzero((contact > 0) & visible)
    assert recall > 0.9
    assert np.all(scores[~visible] == 0.0)


def _face_neighbours(body, contact: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """Vertices sharing a face with a contact vertex (a boundary pixel votes for all three)."""
    touch = contact[body.faces].max(1) > 0
    out = np.zeros(len(contact), dtype=bool)
    out[np.unique(body.faces[touch])] = True
    return out


def test_pipeline_with_stand_in_and_with_the_onnx_test_model(tmp_path: Path) -> None:
    body = vitruvian_capsule_body()
    v, f = box_mesh([0.4, 0.36, 0.3])
    standin = ProximityPainterStandIn()
    pipe = RenderLocalizeLift(standin, body)
    bc = (hand_part_of_vertices(body.vertex_part) == 0).astype(float)
    oc = (v[:, 1] > 0.17).astype(float)
    r = pipe.run("box", "box", v, f, before_engine=lambda bv, ov: standin.set_keyframe(bv, ov, bc, oc))
    assert r.source == "stand-in:proximity-painter" and r.body_model == "hoi_capsules"
    assert set(r.timings_ms) == {"render", "engine", "lift"}
    assert len(r.body_vertices) > 0
    assert np.mean(bc[r.body_vertices]) > 0.9 and np.mean(oc[r.object_vertices]) > 0.7
    r2 = pipe.run("box", "box", v, f, before_engine=lambda bv, ov: standin.set_keyframe(bv, ov, bc, oc))
    assert r2.timings_ms["render"] < r.timings_ms["render"] / 10, "renders are cached per mesh"
    model = make_test_model("interactvlm_mvloc", tmp_path / "m.onnx")
    engine = create_engine(model, load_contract("interactvlm_mvloc"), backend="onnxruntime:cpu")
    r3 = RenderLocalizeLift(engine, body).run("box", "box", v, f)
    assert r3.source.startswith("interactvlm:onnxruntime") and r3.embeddings.startswith("zeros")
    assert r3.body_scores.shape == (len(body.vertices),) and np.all((r3.body_scores >= 0) & (r3.body_scores <= 1))


def test_embedding_table_and_body_models(tmp_path: Path) -> None:
    np.savez(tmp_path / "emb.npz", box__hcon=np.ones(256, np.float32), box__ocon=np.zeros(256, np.float32))
    e = EmbeddingTable(str(tmp_path / "emb.npz")).get("Box")
    assert e.hcon.sum() == 256 and e.source == "file:box"
    assert load_body_model().model == "hoi_capsules"
    v = np.random.default_rng(0).normal(size=(6890, 3))
    np.savez(tmp_path / "smpl.npz", v_template=v, f=np.array([[0, 1, 2]]))
    b = load_body_model(str(tmp_path / "smpl.npz"))
    assert b.model == "smpl" and np.allclose(b.vertices.mean(0), 0.0)
    (tmp_path / "smplx.pkl").write_bytes(b"x")
    with pytest.raises(ValueError, match="unpickling"):
        load_body_model(str(tmp_path / "smplx.pkl"))
