"""Model contracts: tensor names, dtypes, shapes and value conventions as data.

Contracts live in ``hoi_perception/contracts/<name>.yaml``. A shape entry is
either an int (fixed) or the name of a dynamic dimension declared under
``dims`` (with min/opt/max for TensorRT profiles and an ``example`` size for
test models and benchmarks). Every check here collects *all* mismatches and
raises one :class:`ContractError` naming tensor, expected and found.

The functions that map a model's declared tensors (ONNX, ONNX Runtime or
TensorRT) onto a contract are pure and backend-agnostic, so the TensorRT path
shares them with the tested ONNX Runtime path.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

# package data of hoi_perception (setup.py package_data), wherever it is installed
CONTRACT_DIR = Path(str(resources.files("hoi_perception").joinpath("contracts")))

Dim = int | str
ModelDim = int | str | None  # None / -1 / a symbolic name: dynamic in the model

_DTYPES = {"float32", "float16", "float64", "int8", "uint8", "int32", "int64", "bool"}


@dataclass(frozen=True)
class DimSpec:
    """A named dynamic dimension and its TensorRT profile range."""

    name: str
    min: int
    opt: int
    max: int
    example: int
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of a contract."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]
    is_input: bool
    optional: bool = False
    description: str = ""
    source: str = ""
    conventions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return "input" if self.is_input else "output"

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def shape_str(self) -> str:
        return "[" + ",".join(str(d) for d in self.shape) + "]"

    def concrete_shape(self, dims: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else int(dims[d]) for d in self.shape)

    def default(self) -> np.ndarray | None:
        """The per-item default value from conventions (e.g. limb-length priors), or None."""
        if "default" not in self.conventions:
            return None
        return np.asarray(self.conventions["default"], dtype=self.np_dtype)

    def channel_axis(self) -> int:
        """Channel axis from the ``layout`` convention ("NCHW", "B N C H W", ...)."""
        layout = str(self.conventions.get("layout", "")).replace(" ", "")
        if "C" not in layout:
            raise ValueError(f"{self.role} '{self.name}' has no channel axis in its layout convention {layout!r}")
        return layout.index("C")

    def normalize(self, pixels: np.ndarray) -> np.ndarray:
        """Apply the contract's ``(pixel - mean) / std`` normalisation on the channel axis.

        ``pixels`` must already be in the contract's layout and channel order.
        """
        if "mean" not in self.conventions or "std" not in self.conventions:
            raise ValueError(f"{self.role} '{self.name}' declares no mean/std normalisation")
        axis = self.channel_axis()
        bshape = [1] * pixels.ndim
        bshape[axis] = -1
        mean = np.asarray(self.conventions["mean"], dtype=np.float32).reshape(bshape)
        std = np.asarray(self.conventions["std"], dtype=np.float32).reshape(bshape)
        return ((pixels.astype(np.float32) - mean) / std).astype(self.np_dtype, copy=False)


@dataclass(frozen=True)
class Contract:
    """A model's full tensor contract, loaded from YAML."""

    name: str
    version: int
    description: str
    dims: Mapping[str, DimSpec]
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]
    conventions: Mapping[str, Any]
    sources: Mapping[str, str]
    notes: tuple[str, ...]
    path: Path | None = None

    def tensor(self, name: str) -> TensorSpec:
        if name in self.inputs:
            return self.inputs[name]
        if name in self.outputs:
            return self.outputs[name]
        raise KeyError(f"contract {self.name!r} has no tensor {name!r}")

    def example_dims(self, **overrides: int) -> dict[str, int]:
        dims = {n: d.example for n, d in self.dims.items()}
        dims.update(overrides)
        return dims

    def example_inputs(
        self,
        dims: Mapping[str, int] | None = None,
        *,
        seed: int = 0,
        names: Iterable[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Random inputs of the right names/dtypes/shapes (contract defaults where declared)."""
        dims = dict(self.example_dims()) | dict(dims or {})
        rng = np.random.default_rng(seed)
        wanted = list(names) if names is not None else list(self.inputs)
        out: dict[str, np.ndarray] = {}
        for name in wanted:
            spec = self.inputs[name]
            shape = spec.concrete_shape(dims)
            default = spec.default()
            if default is not None:
                lead = len(shape) - default.ndim
                arr = np.broadcast_to(default, shape).copy() if lead >= 0 else rng.standard_normal(shape)
            elif spec.dtype == "bool":
                arr = rng.random(shape) < 0.5
            elif np.issubdtype(spec.np_dtype, np.integer):
                arr = rng.integers(0, 4, size=shape)
            else:
                arr = rng.standard_normal(shape)
            out[name] = np.ascontiguousarray(arr, dtype=spec.np_dtype)
        return out


# ----------------------------------------------------------------------------- loading


def available_contracts() -> list[str]:
    """Names of the contracts shipped with the package."""
    return sorted(p.stem for p in CONTRACT_DIR.glob("*.yaml"))


def load_contract(name_or_path: str | Path) -> Contract:
    """Load a contract by name ("sparse4d") or from a YAML path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return _load(str(p.resolve()))
    path = CONTRACT_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise KeyError(f"unknown contract {name_or_path!r}; available: {', '.join(available_contracts())}")
    return _load(str(path))


@functools.lru_cache(maxsize=32)
def _load(path: str) -> Contract:
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    return contract_from_dict(raw, Path(path))


def contract_from_dict(raw: Mapping[str, Any], path: Path | None = None) -> Contract:
    """Build and sanity-check a contract from its YAML mapping."""
    name = str(raw["name"])
    dims: dict[str, DimSpec] = {}
    for dname, d in (raw.get("dims") or {}).items():
        spec = DimSpec(
            name=dname, min=int(d["min"]), opt=int(d["opt"]), max=int(d["max"]), example=int(d["example"]),
            description=str(d.get("description", "")), source=str(d.get("source", "")),
        )
        if not spec.min <= spec.opt <= spec.max:
            raise ValueError(f"contract {name}: dim {dname} needs min <= opt <= max, got {spec}")
        dims[dname] = spec

    def tensors(entries: Sequence[Mapping[str, Any]], is_input: bool) -> dict[str, TensorSpec]:
        out: dict[str, TensorSpec] = {}
        for t in entries:
            shape = tuple(d if isinstance(d, int) else str(d) for d in t["shape"])
            for d in shape:
                if isinstance(d, str) and d not in dims:
                    raise ValueError(f"contract {name}: tensor {t['name']} uses undeclared dim {d!r}")
            if t["dtype"] not in _DTYPES:
                raise ValueError(f"contract {name}: tensor {t['name']} has unsupported dtype {t['dtype']!r}")
            out[t["name"]] = TensorSpec(
                name=str(t["name"]), dtype=str(t["dtype"]), shape=shape, is_input=is_input,
                optional=bool(t.get("optional", False)), description=str(t.get("description", "")),
                source=str(t.get("source", "")), conventions=dict(t.get("conventions") or {}),
            )
        return out

    return Contract(
        name=name, version=int(raw.get("version", 1)), description=str(raw.get("description", "")).strip(),
        dims=dims, inputs=tensors(raw["inputs"], True), outputs=tensors(raw["outputs"], False),
        conventions=dict(raw.get("conventions") or {}), sources=dict(raw.get("sources") or {}),
        notes=tuple(raw.get("notes") or ()), path=path,
    )


# ----------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Mismatch:
    """One difference between a contract and a model or a set of arrays."""

    role: str  # "input" | "output"
    tensor: str
    what: str  # "missing" | "unexpected" | "dtype" | "rank" | "shape"
    expected: str
    found: str

    def __str__(self) -> str:
        if self.what == "missing":
            return f"{self.role} '{self.tensor}': missing (expected {self.expected})"
        if self.what == "unexpected":
            return f"{self.role} '{self.tensor}': not in the contract (found {self.found}; contract has {self.expected})"
        return f"{self.role} '{self.tensor}': {self.what} expected {self.expected}, found {self.found}"


class ContractError(ValueError):
    """A model or a set of arrays does not match its contract; lists every mismatch."""

    def __init__(self, contract: str, source: str, mismatches: Sequence[Mismatch]):
        self.contract = contract
        self.source = source
        self.mismatches = list(mismatches)
        n = len(self.mismatches)
        lines = [f"{source} does not match contract '{contract}' ({n} mismatch{'es' if n != 1 else ''}):"]
        lines += [f"  - {m}" for m in self.mismatches]
        super().__init__("\n".join(lines))


# ----------------------------------------------------------------------------- dtype maps

# ONNX TensorProto element types -> numpy names (onnx.TensorProto values, kept as ints so
# this module does not need onnx at import time).
ONNX_ELEM_TO_DTYPE = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}
DTYPE_TO_ONNX_ELEM = {v: k for k, v in ONNX_ELEM_TO_DTYPE.items()}
ORT_TYPE_TO_DTYPE = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int32)": "int32", "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}
# tensorrt.DataType member names -> numpy names (matched on the name so tests need no TensorRT).
TRT_TYPE_TO_DTYPE = {
    "FLOAT": "float32", "HALF": "float16", "INT8": "int8", "UINT8": "uint8", "INT32": "int32", "INT64": "int64",
    "BOOL": "bool",
}


def trt_dtype_name_to_dtype(trt_dtype: object) -> str:
    """Map a ``tensorrt.DataType`` (or its str, e.g. "DataType.FLOAT") to a numpy dtype name."""
    key = str(getattr(trt_dtype, "name", trt_dtype)).rsplit(".", 1)[-1]
    if key not in TRT_TYPE_TO_DTYPE:
        raise ValueError(f"TensorRT data type {trt_dtype} has no numpy equivalent here")
    return TRT_TYPE_TO_DTYPE[key]


# ----------------------------------------------------------------------------- model checks


@dataclass(frozen=True)
class TensorInfo:
    """A tensor as a model/engine declares it: dynamic dims are None, -1 or a symbolic name."""

    name: str
    dtype: str
    shape: tuple[ModelDim, ...]


def _is_dynamic(d: ModelDim) -> bool:
    return d is None or isinstance(d, str) or (isinstance(d, int) and d < 0)


def _fmt_model_shape(shape: Sequence[ModelDim]) -> str:
    return "[" + ",".join("?" if d is None or (isinstance(d, int) and d < 0) else str(d) for d in shape) + "]"


@dataclass(frozen=True)
class BoundIO:
    """Contract tensors a model actually has, in the model's order."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    fixed_dims: Mapping[str, int]  # contract dims the model pins to one value


def check_model_io(
    contract: Contract, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], source: str
) -> BoundIO:
    """Check a model's declared tensors against ``contract``; raise ContractError listing all mismatches.

    Rules: every required contract tensor must exist; every model *input*
    must be in the contract (we could not feed it); extra model outputs are
    ignored. dtype and rank must match exactly. A fixed contract dim must be
    equal (or dynamic in the model); a named contract dim may be dynamic, or
    fixed within [min, max] and the same in every tensor that uses it.
    """
    mism: list[Mismatch] = []
    fixed: dict[str, int] = {}
    bound_in: list[TensorSpec] = []
    bound_out: list[TensorSpec] = []

    def check_one(spec: TensorSpec, info: TensorInfo) -> None:
        if info.dtype != spec.dtype:
            mism.append(Mismatch(spec.role, spec.name, "dtype", spec.dtype, info.dtype))
        if len(info.shape) != spec.rank:
            mism.append(Mismatch(spec.role, spec.name, "rank",
                                 f"{spec.rank} {spec.shape_str()}", f"{len(info.shape)} {_fmt_model_shape(info.shape)}"))
            return
        bad: list[str] = []
        for i, (c, m) in enumerate(zip(spec.shape, info.shape, strict=True)):
            if _is_dynamic(m):
                continue
            assert isinstance(m, int)
            if isinstance(c, int):
                if c != m:
                    bad.append(f"dim {i} is {m}, expected {c}")
            else:
                d = contract.dims[c]
                if not d.min <= m <= d.max:
                    bad.append(f"dim {i} ({c}) is fixed to {m}, outside [{d.min}, {d.max}]")
                elif fixed.setdefault(c, m) != m:
                    bad.append(f"dim {i} ({c}) is {m} here but {fixed[c]} in another tensor")
        if bad:
            mism.append(Mismatch(spec.role, spec.name, "shape",
                                 spec.shape_str(), f"{_fmt_model_shape(info.shape)} ({'; '.join(bad)})"))

    for role_specs, infos, bound, is_input in (
        (contract.inputs, inputs, bound_in, True), (contract.outputs, outputs, bound_out, False)
    ):
        by_name = {t.name: t for t in infos}
        for spec in role_specs.values():
            if spec.name in by_name:
                check_one(spec, by_name[spec.name])
            elif not spec.optional:
                mism.append(Mismatch(spec.role, spec.name, "missing", f"{spec.dtype} {spec.shape_str()}", "-"))
        for info in infos:
            if info.name in role_specs:
                bound.append(role_specs[info.name])
            elif is_input:
                mism.append(Mismatch("input", info.name, "unexpected", ", ".join(role_specs),
                                     f"{info.dtype} {_fmt_model_shape(info.shape)}"))
    if mism:
        raise ContractError(contract.name, source, mism)
    return BoundIO(tuple(bound_in), tuple(bound_out), fixed)


def validate_arrays(
    contract: Contract,
    specs: Sequence[TensorSpec],
    arrays: Mapping[str, Any],
    source: str,
    *,
    dims: Mapping[str, int] | None = None,
    allow_extra: bool = False,
) -> dict[str, int]:
    """Check arrays (anything with .shape and .dtype) against ``specs``; return the bound dims.

    Names, dtypes (exact: no silent casts), ranks, fixed dims and the
    consistency of named dims across tensors (and with ``dims`` already
    bound, e.g. from the inputs when checking outputs).
    """
    bound: dict[str, int] = dict(dims or {})
    mism: list[Mismatch] = []
    names = {s.name for s in specs}
    for spec in specs:
        if spec.name not in arrays:
            mism.append(Mismatch(spec.role, spec.name, "missing", f"{spec.dtype} {spec.shape_str()}", "-"))
            continue
        a = arrays[spec.name]
        dtype = np.dtype(a.dtype).name
        if dtype != spec.dtype:
            mism.append(Mismatch(spec.role, spec.name, "dtype", spec.dtype, f"{dtype} (convert with .astype)"))
        shape = tuple(int(s) for s in a.shape)
        if len(shape) != spec.rank:
            mism.append(Mismatch(spec.role, spec.name, "rank", f"{spec.rank} {spec.shape_str()}",
                                 f"{len(shape)} {list(shape)}"))
            continue
        bad: list[str] = []
        for i, (c, s) in enumerate(zip(spec.shape, shape, strict=True)):
            if isinstance(c, int):
                if c != s:
                    bad.append(f"dim {i} is {s}, expected {c}")
            elif bound.setdefault(c, s) != s:
                bad.append(f"dim {i} ({c}) is {s}, but {c}={bound[c]} elsewhere")
        if bad:
            mism.append(Mismatch(spec.role, spec.name, "shape", spec.shape_str(), f"{list(shape)} ({'; '.join(bad)})"))
    if not allow_extra:
        role = specs[0].role if specs else "input"
        for name in arrays:
            if name not in names:
                mism.append(Mismatch(role, name, "unexpected", ", ".join(sorted(names)), "an array"))
    if mism:
        raise ContractError(contract.name, source, mism)
    return bound


# ----------------------------------------------------------------------------- profiles

Profile = dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]


def profile_shapes(
    contract: Contract,
    input_names: Iterable[str] | None = None,
    overrides: Mapping[str, tuple[int, int, int]] | None = None,
    fixed_dims: Mapping[str, int] | None = None,
) -> Profile:
    """TensorRT optimisation-profile (min, opt, max) shapes per input from the contract dims.

    ``overrides`` replace a dim's (min, opt, max); ``fixed_dims`` pin dims the
    model itself fixes. Raises ValueError on an inverted range.
    """
    ranges: dict[str, tuple[int, int, int]] = {n: (d.min, d.opt, d.max) for n, d in contract.dims.items()}
    for n, v in (fixed_dims or {}).items():
        ranges[n] = (v, v, v)
    for n, (lo, opt, hi) in (overrides or {}).items():
        if n not in contract.dims:
            raise ValueError(f"contract {contract.name} has no dim {n!r} (dims: {', '.join(contract.dims)})")
        if not 1 <= lo <= opt <= hi:
            raise ValueError(f"profile for {n} needs 1 <= min <= opt <= max, got {lo}:{opt}:{hi}")
        ranges[n] = (lo, opt, hi)
    names = list(input_names) if input_names is not None else list(contract.inputs)
    prof: Profile = {}
    for name in names:
        spec = contract.inputs[name]
        prof[name] = tuple(  # type: ignore[assignment]
            tuple(d if isinstance(d, int) else ranges[d][k] for d in spec.shape) for k in range(3)
        )
    return prof


def parse_profile_overrides(items: Iterable[str]) -> dict[str, tuple[int, int, int]]:
    """Parse CLI ``DIM=min:opt:max`` (or ``DIM=value``) items."""
    out: dict[str, tuple[int, int, int]] = {}
    for item in items:
        name, _, rng = item.partition("=")
        parts = [int(p) for p in rng.split(":")] if rng else []
        if len(parts) == 1:
            parts = parts * 3
        if not name or len(parts) != 3:
            raise ValueError(f"profile override {item!r} must look like DIM=min:opt:max or DIM=value")
        out[name] = (parts[0], parts[1], parts[2])
    return out


def tensor_infos_from_onnx(path: str | Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Declared graph inputs (without initializers) and outputs of an ONNX file."""
    import onnx  # only where an ONNX file is read

    model = onnx.load(str(path), load_external_data=False)
    g = model.graph
    inits = {i.name for i in g.initializer}

    def info(vi: Any) -> TensorInfo:
        tt = vi.type.tensor_type
        dims: list[ModelDim] = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or None)
        return TensorInfo(vi.name, ONNX_ELEM_TO_DTYPE.get(tt.elem_type, f"onnx-elem-{tt.elem_type}"), tuple(dims))

    return [info(v) for v in g.input if v.name not in inits], [info(v) for v in g.output]
