"""Synthetic scene renderer: geometry of depth, instance ids, NaN background, visibility."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.geometry.camera import PinholeCamera, backproject_depth, intrinsics, look_at
from hoi_perception.scene import RenderedView, SceneConfig, SyntheticScene
from hoi_perception.scene.body import CAPSULES
from hoi_perception.scene.hoi_script import BIN_HEIGHT_M, BIN_RADIUS_M, BOX_SIZE
from hoi_perception.scene.meshes import box_signed_distance, cylinder_signed_distance, point_segment_distance
from hoi_perception.skeleton.bodypose34 import NUM_JOINTS

HUMAN, BOX, BIN = 1, 11, 12
WALK_FRAME, CARRY_FRAME = 20, 75

# looks straight up from above the scene: nothing but sky
SKY_CAMERA = PinholeCamera("sky_cam", 160, 90, intrinsics(80, 80, 80, 45),
                           look_at([0.0, 0.3, 5.0], [0.0, 0.3, 10.0], up=(0.0, 1.0, 0.0)))
# at the floor's edge looking out of the scene
AWAY_CAMERA = PinholeCamera("away_cam", 160, 90, intrinsics(80, 80, 80, 45),
                            look_at([0.0, 10.5, 1.5], [0.0, 20.0, 1.0]))


@pytest.fixture(scope="module")
def scene() -> SyntheticScene:
    return SyntheticScene(SceneConfig(seed=1, num_static_cameras=4, extra_cameras=(SKY_CAMERA, AWAY_CAMERA)))


def _world_points(view: RenderedView, cam: PinholeCamera, mask: np.ndarray) -> np.ndarray:
    xyz = backproject_depth(view.depth, cam.k)[mask].astype(np.float64)
    # backproject_depth uses integer pixel coordinates; the renderer shoots rays through pixel centres (+0.5)
    d = view.depth[mask].astype(np.float64)
    xyz[:, 0] += 0.5 * d / cam.k[0, 0]
    xyz[:, 1] += 0.5 * d / cam.k[1, 1]
    t = cam.world_from_camera
    return xyz @ t[:3, :3].T + t[:3, 3]


def test_view_types_and_shapes(scene: SyntheticScene) -> None:
    for name in ("zed_left_camera", "cam_00"):
        view = scene.render(WALK_FRAME, name)
        cam = scene.cameras[name]
        assert view.rgb.dtype == np.uint8 and view.rgb.shape == (cam.height, cam.width, 3)
        assert view.depth.dtype == np.float32 and view.depth.shape == (cam.height, cam.width)
        assert view.instance_ids.dtype == np.int32
        assert HUMAN in np.unique(view.instance_ids)
    assert set(scene.cameras) == {"zed_left_camera", "cam_00", "cam_01", "cam_02", "cam_03", "sky_cam", "away_cam"}


def test_floor_depth_is_optical_z_of_floor_points(scene: SyntheticScene) -> None:
    for name in ("cam_00", "zed_left_camera"):
        view = scene.render(WALK_FRAME, name)
        cam = scene.cameras[name]
        floor = (view.instance_ids == 0) & np.isfinite(view.depth)
        assert floor.sum() > 10_000
        pts = _world_points(view, cam, floor)
        assert np.abs(pts[:, 2]).max() < 2e-3  # float32 depth
        # known floor points: project, read the depth at their pixel, compare with their optical z
        gx, gy = np.meshgrid(np.linspace(-4, 4, 9), np.linspace(-4, 4, 9))
        p = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], -1)
        uv, z = cam.project(p)
        inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
        rows, cols = uv[inside, 1].astype(int), uv[inside, 0].astype(int)
        unoccluded = view.instance_ids[rows, cols] == 0
        assert unoccluded.sum() >= 10
        # the pixel centre's ray meets the floor within a pixel of the point
        np.testing.assert_allclose(view.depth[rows, cols][unoccluded], z[inside][unoccluded], rtol=0.01)


def test_surfaces_lie_on_their_primitives(scene: SyntheticScene) -> None:
    gt = scene.ground_truth(CARRY_FRAME, with_visibility=False)
    view = scene.render(CARRY_FRAME, "zed_left_camera")
    cam = scene.cameras["zed_left_camera"]
    box = gt.object(BOX)
    pts = _world_points(view, cam, view.instance_ids == BOX)
    assert len(pts) > 200
    local = (pts - box.world_from_object[:3, 3]) @ box.world_from_object[:3, :3]
    assert np.abs(box_signed_distance(local, BOX_SIZE)).max() < 2e-3
    # the bin (cylinder) from a ring camera
    view0 = scene.render(CARRY_FRAME, "cam_00")
    bin_obj = gt.object(BIN)
    pts = _world_points(view0, scene.cameras["cam_00"], view0.instance_ids == BIN)
    assert len(pts) > 20
    local = (pts - bin_obj.world_from_object[:3, 3]) @ bin_obj.world_from_object[:3, :3]
    assert np.abs(cylinder_signed_distance(local, BIN_RADIUS_M, BIN_HEIGHT_M)).max() < 3e-3
    # the human: every pixel on some capsule surface
    ca, cb, r = scene.body_capsules(CARRY_FRAME)
    pts = _world_points(view, cam, view.instance_ids == HUMAN)
    dist = (point_segment_distance(pts, ca, cb) - r[None, :]).min(axis=1)
    assert len(pts) > 500 and np.abs(dist).max() < 3e-3
    assert len(CAPSULES) == len(r)


def test_nan_depth_where_no_surface(scene: SyntheticScene) -> None:
    sky = scene.render(WALK_FRAME, "sky_cam")
    assert np.isnan(sky.depth).all() and (sky.instance_ids == 0).all()
    view = scene.render(WALK_FRAME, "cam_01")
    nan = np.isnan(view.depth)
    assert nan.any(), "ring cameras see past the floor's edge"
    assert (view.instance_ids[nan] == 0).all()
    assert (view.rgb[nan] == view.rgb[nan][0]).all(), "background is a uniform sky colour"
    # the top image row looks over the floor edge, the bottom row at the floor
    assert np.isnan(view.depth[0]).all() and np.isfinite(view.depth[-1]).all()


def test_visible_joints_land_on_the_human(scene: SyntheticScene) -> None:
    checked = on_human = 0
    for frame in (WALK_FRAME, CARRY_FRAME):
        gt = scene.ground_truth(frame)
        for name in ("zed_left_camera", "cam_00", "cam_01", "cam_02", "cam_03"):
            vis = gt.joint_visibility[name]
            assert vis.shape == (NUM_JOINTS,)
            view = scene.render(frame, name)
            uv, _ = scene.cameras[name].project(gt.joints_world)
            for j in np.flatnonzero(vis):
                row, col = int(uv[j, 1]), int(uv[j, 0])
                # thin parts far away are under a pixel wide: the joint's pixel centre may just miss them
                assert HUMAN in view.instance_ids[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2]
                on_human += view.instance_ids[row, col] == HUMAN
                checked += 1
        assert gt.joint_visibility["zed_left_camera"].sum() >= 20
    assert checked > 200 and on_human > 0.95 * checked


def test_occluded_joints_are_marked(scene: SyntheticScene) -> None:
    # while carrying, some camera has a joint hidden by the box or a table
    gt = scene.ground_truth(CARRY_FRAME)
    hidden = [n for n in ("zed_left_camera", "cam_00", "cam_01", "cam_02", "cam_03") if not gt.joint_visibility[n].all()]
    assert hidden


def test_visibility_zero_for_cameras_looking_away(scene: SyntheticScene) -> None:
    gt = scene.ground_truth(WALK_FRAME)
    for name in ("sky_cam", "away_cam"):
        assert not gt.joint_visibility[name].any()
        assert all(b.visibility[name] == 0.0 for b in gt.boxes)
    human = gt.box(HUMAN)
    assert human.visibility["zed_left_camera"] > 0.3
    for b in gt.boxes:
        assert set(b.visibility) == set(scene.cameras)
        assert all(0.0 <= v <= 1.0 for v in b.visibility.values())


def test_visibility_drops_when_occluded(scene: SyntheticScene) -> None:
    # the carried box hides part of the torso from the camera it faces; the table legs hide little
    gt = scene.ground_truth(CARRY_FRAME)
    vis = [gt.box(HUMAN).visibility[n] for n in ("zed_left_camera", "cam_00", "cam_01", "cam_02", "cam_03")]
    assert min(vis) < 0.98 and max(vis) > 0.5


def test_render_is_cached_and_deterministic(scene: SyntheticScene) -> None:
    a = scene.render(CARRY_FRAME, "cam_02")
    assert scene.render(CARRY_FRAME, "cam_02") is a
    fresh = SyntheticScene(scene.config).render(CARRY_FRAME, "cam_02")
    assert np.array_equal(a.rgb, fresh.rgb) and np.array_equal(a.instance_ids, fresh.instance_ids)
    assert np.array_equal(a.depth, fresh.depth, equal_nan=True)
