"""InteractVLM's Render-Localize-Lift around the MV-Loc engine (contracts/interactvlm_mvloc.yaml).

Render: the body mesh in its canonical pose and the object mesh (centred,
scaled to unit size as demo_utils.normalize_mesh does) from the reference's
four fixed views each, 1024 x 1024, with this project's z-buffer rasteriser,
which also yields the per-pixel face and barycentric maps used for lifting.
Views, camera parameters and their normalisation are the reference's
(saidwivedi/InteractVLM@79b4bf2):

* body: HUMAN_VIEW_DICT['4MV-Z_Vitru'] (preprocess_data/constants.py):
  topfront [2, 45, 315, 0, 0], bottomfront [2, 315, 315, 0, 0.3],
  topback [2, 45, 135, 0, 0], bottomback [2, 315, 135, 0, 0.3]
  ([distance, elevation, azimuth, x shift, y shift] of PyTorch3D's
  look_at_view_transform, FoVPerspectiveCameras, 60 degrees);
* object: rendered at distance 1.5 (utils/demo_utils.py
  generate_sam_inp_objs views_4: frontleft (1.5, 45, 315), frontright
  (1.5, 45, 45), backleft (1.5, 330, 135), backright (1.5, 330, 225)),
  while the engine is conditioned on OBJS_VIEW_DICT['4MV-Z_HM'] cam_params
  (distance 2);
* cam_params normalised as datasets/base_contact_dataset.py
  normalize_cam_params: [d/10, elev/360, azim/360, (x+1)/2, (y+1)/2];
* renders: RGB 0..255 on a white background, (pixel - SAM mean) / SAM std
  (run_demo.py preprocess); object colour = normalised xyz * 0.8 + 0.1
  (demo_utils, "color" renders); body colour = vertex normals (the
  reference's body_render_norm images), both lit with ambient 0.5 +
  diffuse 0.3 from the reference's LIGHT_LOCATIONS.

Localize: the engine (ONNX Runtime / TensorRT through engine/, or the named
STAND-IN) maps renders + cam params + the VLM's <HCON>/<OCON> embeddings to
per-view mask logits.

Lift (model/components.py): per view, sigmoid(clamp(logit, -20, 20)) per
pixel; each pixel votes for its face's three vertices with its barycentric
weights; a vertex's view score is the weighted mean of its votes; the
vertex score is the mean over the views that see it. Body vertices are in
contact above 0.3 (HumanContact3DPredictor threshold, run_demo.py
contact_threshold for hcontact); object pixels vote only where the
probability exceeds 0.3 (ObjectMeshContact3DPredictor) and object vertices
are in contact above 0.5 (run_demo.py contact_threshold for objects).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hoi_perception.contacts.body_mesh import BodyMesh
from hoi_perception.engine.base import Engine
from hoi_perception.engine.contract import Contract, load_contract
from hoi_perception.interactvlm.raster import Fragments, fov_intrinsics, look_at_camera, rasterize
from numpy.typing import NDArray

RENDER_SIZE = 1024
BODY_VIEWS: dict[str, tuple[float, float, float, float, float]] = {
    "topfront": (2.0, 45.0, 315.0, 0.0, 0.0),
    "bottomfront": (2.0, 315.0, 315.0, 0.0, 0.3),
    "topback": (2.0, 45.0, 135.0, 0.0, 0.0),
    "bottomback": (2.0, 315.0, 135.0, 0.0, 0.3),
}
OBJECT_RENDER_VIEWS: dict[str, tuple[float, float, float, float, float]] = {
    "frontleft": (1.5, 45.0, 315.0, 0.0, 0.0),
    "frontright": (1.5, 45.0, 45.0, 0.0, 0.0),
    "backleft": (1.5, 330.0, 135.0, 0.0, 0.0),
    "backright": (1.5, 330.0, 225.0, 0.0, 0.0),
}
OBJECT_CAM_PARAMS: dict[str, tuple[float, float, float, float, float]] = {
    "frontleft": (2.0, 45.0, 315.0, 0.0, 0.0),
    "frontright": (2.0, 45.0, 45.0, 0.0, 0.0),
    "backleft": (2.0, 330.0, 135.0, 0.0, 0.0),
    "backright": (2.0, 330.0, 225.0, 0.0, 0.0),
}
LIGHT_LOCATIONS = ((0.0, 0.0, 3.0), (0.0, 0.0, 3.0), (0.0, 0.0, -3.0), (0.0, 0.0, -3.0))  # utils/demo_utils.py
SAM_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
SAM_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
BODY_THRESHOLD = 0.3
OBJECT_PIXEL_THRESHOLD = 0.3
OBJECT_THRESHOLD = 0.5
EMBED_DIM = 256


def normalize_cam_params(p: tuple[float, float, float, float, float]) -> NDArray[np.float32]:
    d, e, a, x, y = p
    return np.array([d / 10.0, e / 360.0, a / 360.0, (x + 1.0) / 2.0, (y + 1.0) / 2.0], dtype=np.float32)


def normalize_object_mesh(vertices: NDArray[np.float64]) -> NDArray[np.float64]:
    """Centre at the vertex mean, divide by the largest bounding-box side (demo_utils.normalize_mesh)."""
    c = vertices - vertices.mean(axis=0)
    return c / max(float(np.max(c.max(0) - c.min(0))), 1e-9)


def vertex_normals(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float64]:
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    n = np.cross(b - a, c - a)
    out = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(out, faces[:, i], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@dataclass
class MeshViews:
    """A mesh rendered from the fixed views: images (V, H, W, 3) uint8, fragments, pixel->vertex maps."""

    images: NDArray[np.uint8]
    fragments: list[Fragments]
    pixel_vertices: NDArray[np.int64]   # (V, H, W, 3), -1 = background
    num_vertices: int
    render_ms: float

    def engine_input(self) -> NDArray[np.float32]:
        """(1, V, 3, H, W) SAM-normalised float32 (square renders need no resize or padding)."""
        x = (self.images.astype(np.float32) - SAM_MEAN) / SAM_STD
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)[None])


def render_views(vertices: NDArray[np.float64], faces: NDArray[np.int64], colors: NDArray[np.float64],
                 views: dict[str, tuple[float, float, float, float, float]], size: int = RENDER_SIZE) -> MeshViews:
    """Render a mesh (canonical frame, y up) from ``views`` with per-pixel face ids (white background)."""
    t0 = time.perf_counter()
    k = fov_intrinsics(size)
    normals = vertex_normals(vertices, faces)
    images, frags, p2v = [], [], []
    for i, params in enumerate(views.values()):
        cam = look_at_camera(*params)
        vc = vertices @ cam[:3, :3].T + cam[:3, 3]
        fr = rasterize(vc, faces, k, size, size)
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        hit = fr.face >= 0
        tri = faces[fr.face[hit]]
        w = fr.bary[hit].astype(np.float64)[..., None]
        col = np.sum(colors[tri] * w, axis=1)
        nrm = np.sum(normals[tri] * w, axis=1)
        pos = np.sum(vertices[tri] * w, axis=1)
        light = np.asarray(LIGHT_LOCATIONS[i % 4]) - pos
        light /= np.maximum(np.linalg.norm(light, axis=1, keepdims=True), 1e-9)
        shade = 0.5 + 0.3 * np.abs(np.sum(nrm * light, axis=1))
        img[hit] = np.clip(col * shade[:, None] * 255.0 / 0.8, 0, 255).astype(np.uint8)
        images.append(img)
        frags.append(fr)
        p2v.append(fr.pixel_to_vertices(faces))
    return MeshViews(np.stack(images), frags, np.stack(p2v), len(vertices), (time.perf_counter() - t0) * 1e3)


def lift_masks(mask_logits: NDArray[np.float32], views: MeshViews, pixel_threshold: float | None = None
               ) -> NDArray[np.float64]:
    """Per-vertex contact scores in [0, 1] from per-view mask logits (V, H, W) (see the module docstring)."""
    n = views.num_vertices
    total = np.zeros(n)
    seen = np.zeros(n)
    for vi in range(mask_logits.shape[0]):
        prob = 1.0 / (1.0 + np.exp(-np.clip(mask_logits[vi].astype(np.float64), -20.0, 20.0)))
        fr = views.fragments[vi]
        hit = fr.face >= 0
        if pixel_threshold is not None:
            hit &= prob > pixel_threshold
        vids = views.pixel_vertices[vi][hit]      # (P, 3)
        w = fr.bary[hit].astype(np.float64)       # (P, 3)
        m = prob[hit]
        votes = np.bincount(vids.ravel(), weights=(w * m[:, None]).ravel(), minlength=n)
        counts = np.bincount(vids.ravel(), weights=w.ravel(), minlength=n)
        ok = counts > 0
        total[ok] += votes[ok] / counts[ok]
        seen += ok
    out = np.zeros(n)
    ok = seen > 0
    out[ok] = total[ok] / seen[ok]
    return np.clip(out, 0.0, 1.0)


def paint_masks(views: MeshViews, vertex_contact: NDArray[np.float64], logit: float = 10.0) -> NDArray[np.float32]:
    """Mask logits (V, H, W) that mark the pixels whose face is mostly contact vertices (the inverse of the
    lift; used by the stand-in engine)."""
    out = np.full(views.pixel_vertices.shape[:3], -logit, dtype=np.float32)
    for vi, fr in enumerate(views.fragments):
        hit = fr.face >= 0
        score = np.sum(vertex_contact[views.pixel_vertices[vi][hit]] * fr.bary[hit], axis=1)
        out[vi][hit] = np.where(score >= 0.5, logit, -logit)
    return out


class ProximityPainterStandIn(Engine):
    """STAND-IN for MV-Loc: paints masks from per-vertex 3D proximity contacts of the current keyframe.

    Not a model: it does not read the renders' pixels. ``set_keyframe`` gives
    it the body and object vertex contact flags (from the posed geometry), and
    it returns mask logits on the renders' pixel maps, so the pipeline's
    render/lift path runs end to end and its loss (views that do not see a
    contact vertex) is measurable. backend_name says STAND-IN everywhere."""

    backend_name = "stand-in:proximity-painter"

    def __init__(self, contract: Contract | None = None) -> None:
        super().__init__(contract or load_contract("interactvlm_mvloc"))
        self._body_views: MeshViews | None = None
        self._object_views: MeshViews | None = None
        self._body_contact: NDArray[np.float64] | None = None
        self._object_contact: NDArray[np.float64] | None = None

    def set_keyframe(self, body_views: MeshViews, object_views: MeshViews, body_contact: NDArray[np.float64],
                     object_contact: NDArray[np.float64]) -> None:
        self._body_views, self._object_views = body_views, object_views
        self._body_contact = np.asarray(body_contact, dtype=np.float64)
        self._object_contact = np.asarray(object_contact, dtype=np.float64)

    def _run_host(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._body_views is None or self._object_views is None:
            raise RuntimeError("stand-in engine run without set_keyframe()")
        b = inputs["body_renders"].shape[0]
        body = paint_masks(self._body_views, self._body_contact)[None].repeat(b, 0)
        obj = paint_masks(self._object_views, self._object_contact)[None].repeat(b, 0)
        return {"body_contact_masks": body, "object_contact_masks": obj}


@dataclass
class ContactEmbeddings:
    """The VLM's <HCON>/<OCON> token embeddings (256-d after text_hidden_fcs) for one object label."""

    hcon: NDArray[np.float32]
    ocon: NDArray[np.float32]
    source: str


class EmbeddingTable:
    """Label -> embeddings from an .npz (arrays ``<label>__hcon`` / ``<label>__ocon``, exported offline from
    InteractVLM's LLaVA part), or zeros (named as such) where none is given."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self._table: dict[str, ContactEmbeddings] = {}
        if path:
            with np.load(path, allow_pickle=False) as z:
                labels = {k.rsplit("__", 1)[0] for k in z.files if k.endswith(("__hcon", "__ocon"))}
                for lab in labels:
                    h, o = np.asarray(z[f"{lab}__hcon"], np.float32), np.asarray(z[f"{lab}__ocon"], np.float32)
                    if h.shape != (EMBED_DIM,) or o.shape != (EMBED_DIM,):
                        raise ValueError(f"{path}: {lab} embeddings must be ({EMBED_DIM},)")
                    self._table[lab] = ContactEmbeddings(h, o, f"file:{lab}")

    def get(self, label: str) -> ContactEmbeddings:
        e = self._table.get(label.lower())
        if e is not None:
            return e
        z = np.zeros(EMBED_DIM, dtype=np.float32)
        return ContactEmbeddings(z, z, "zeros (no VLM embeddings for this label)")


@dataclass
class InteractVlmResult:
    body_scores: NDArray[np.float64]
    object_scores: NDArray[np.float64]
    body_vertices: NDArray[np.int64]
    object_vertices: NDArray[np.int64]
    timings_ms: dict[str, float] = field(default_factory=dict)
    source: str = ""
    body_model: str = ""
    embeddings: str = ""


class RenderLocalizeLift:
    """One keyframe at a time: ``run(object_key, label, object vertices, faces)``. Renders are cached per
    body and per object mesh (the canonical body never changes; an object mesh is rendered once)."""

    def __init__(self, engine: Engine, body: BodyMesh, embeddings: EmbeddingTable | None = None,
                 size: int = RENDER_SIZE) -> None:
        self.engine = engine
        self.body = body
        self.size = size
        self.embeddings = embeddings or EmbeddingTable()
        self._body_views: MeshViews | None = None
        self._object_views: dict[str, MeshViews] = {}
        self._body_input: NDArray[np.float32] | None = None
        self._object_inputs: dict[str, NDArray[np.float32]] = {}
        self.body_cam = np.stack([normalize_cam_params(p) for p in BODY_VIEWS.values()])[None]
        self.object_cam = np.stack([normalize_cam_params(p) for p in OBJECT_CAM_PARAMS.values()])[None]

    @property
    def source(self) -> str:
        return self.engine.backend_name if self.engine.is_stand_in else f"interactvlm:{self.engine.backend_name}"

    def body_views(self) -> MeshViews:
        if self._body_views is None:
            colors = (vertex_normals(self.body.vertices, self.body.faces) + 1.0) / 2.0 * 0.8 + 0.1
            self._body_views = render_views(self.body.vertices, self.body.faces, colors, BODY_VIEWS, self.size)
            self._body_input = self._body_views.engine_input()
        return self._body_views

    def object_views(self, key: str, vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> MeshViews:
        views = self._object_views.get(key)
        if views is None:
            v = normalize_object_mesh(np.asarray(vertices, dtype=np.float64))
            lo, hi = v.min(0), v.max(0)
            colors = (v - lo) / np.maximum(hi - lo, 1e-9) * 0.8 + 0.1
            views = self._object_views[key] = render_views(v, np.asarray(faces, np.int64), colors,
                                                           OBJECT_RENDER_VIEWS, self.size)
            self._object_inputs[key] = views.engine_input()
            if len(self._object_views) > 16:  # bounded cache: forget the oldest object
                old = next(iter(self._object_views))
                self._object_views.pop(old)
                self._object_inputs.pop(old, None)
        return views

    def run(self, object_key: str, label: str, vertices: NDArray[np.float64], faces: NDArray[np.int64],
            before_engine: Callable[[MeshViews, MeshViews], None] | None = None) -> InteractVlmResult:
        t0 = time.perf_counter()
        bv = self.body_views()
        ov = self.object_views(object_key, vertices, faces)
        emb = self.embeddings.get(label)
        inputs = {"body_renders": self._body_input, "body_cam_params": self.body_cam,
                  "hcon_embedding": emb.hcon[None], "object_renders": self._object_inputs[object_key],
                  "object_cam_params": self.object_cam, "ocon_embedding": emb.ocon[None]}
        t1 = time.perf_counter()
        if before_engine is not None:
            before_engine(bv, ov)
        out = self.engine.run(inputs)
        t2 = time.perf_counter()
        body_scores = lift_masks(out["body_contact_masks"][0], bv)
        obj_scores = lift_masks(out["object_contact_masks"][0], ov, OBJECT_PIXEL_THRESHOLD)
        t3 = time.perf_counter()
        return InteractVlmResult(
            body_scores=body_scores, object_scores=obj_scores,
            body_vertices=np.flatnonzero(body_scores > BODY_THRESHOLD).astype(np.int64),
            object_vertices=np.flatnonzero(obj_scores > OBJECT_THRESHOLD).astype(np.int64),
            timings_ms={"render": (t1 - t0) * 1e3, "engine": (t2 - t1) * 1e3, "lift": (t3 - t2) * 1e3},
            source=self.source, body_model=self.body.model, embeddings=emb.source)
