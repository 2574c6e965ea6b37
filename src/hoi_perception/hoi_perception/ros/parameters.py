"""Node parameters declared from one table: name, default, description, range,
choices, read-only.

Each node module keeps a ``PARAMETERS`` tuple of :class:`Param`; that tuple is
the one place its defaults live (config/*.yaml only holds values that differ
from them, which test/test_parameters.py checks). ``declare_parameters``
declares every entry with a ``rcl_interfaces/ParameterDescriptor`` (description,
integer/floating-point range, read_only, additional_constraints naming the
choices), so ``ros2 param describe`` documents the node, rclpy refuses
out-of-range values and run-time changes of parameters that only take effect
at start-up, and a bad start-up value is a ValueError (exit 2 via run_node).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterValueException, ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    min: float | None = None  # inclusive; both bounds or neither (rcl ranges are closed intervals)
    max: float | None = None
    choices: tuple[str, ...] = ()
    # True: read at start-up only, so a run-time change would do nothing; rclpy refuses it.
    read_only: bool = True

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(name=self.name, description=self.description, read_only=self.read_only)
        if self.choices:
            d.additional_constraints = "one of: " + ", ".join(self.choices)
        if self.min is not None or self.max is not None:
            if isinstance(self.default, bool) or not isinstance(self.default, (int, float)):
                raise TypeError(f"parameter {self.name}: a range needs a numeric default")
            lo = self.min if self.min is not None else -_BIG
            hi = self.max if self.max is not None else _BIG
            if isinstance(self.default, int):
                d.integer_range = [IntegerRange(from_value=int(max(lo, -2**62)), to_value=int(min(hi, 2**62)),
                                                step=0)]
            else:
                d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
        return d


_BIG = 1.0e300


def declare_parameters(node: Node, params: Sequence[Param], prefix: str = "") -> dict[str, Any]:
    """Declare every parameter (with its descriptor) and return name -> value.

    Values outside the range or the choices raise ValueError naming the
    parameter, its value and what it accepts."""
    values: dict[str, Any] = {}
    for p in params:
        name = f"{prefix}.{p.name}" if prefix else p.name
        if node.has_parameter(name):  # declared already (e.g. by an earlier table): keep its value
            values[p.name] = node.get_parameter(name).value
            continue
        _accept_whole_number_for_double(node, name, p.default)
        try:
            value = node.declare_parameter(name, p.default, p.descriptor()).value
        except (InvalidParameterValueException, ParameterException) as exc:
            raise ValueError(f"parameter '{name}': {exc}; it takes {_accepts(p)}") from None
        except TypeError as exc:  # rclpy: a value of another type than the default's
            raise ValueError(f"parameter '{name}': {exc}") from None
        if value is None and p.default is not None and not isinstance(p.default, Parameter.Type):
            # (a Parameter.Type default declares a parameter that is unset on purpose, e.g. bag_player topics_include)
            # e.g. cameras:=[]: an empty list has no element type, so rclpy leaves the parameter unset
            raise ValueError(f"parameter '{name}' has no value (an empty list is not accepted); it takes "
                             f"{_accepts(p)}")
        if p.choices and value not in p.choices:
            raise ValueError(f"parameter '{name}' must be one of {', '.join(p.choices)}, got {value!r}")
        values[p.name] = value
    return values


def _accept_whole_number_for_double(node: Node, name: str, default: Any) -> None:
    """``rate:=2`` reaches rclpy as an INTEGER override, which a DOUBLE parameter
    refuses ("expecting type DOUBLE"); a whole number is a valid double, so the
    override is retyped before declaring. (Node._parameter_overrides is where
    rclpy keeps the command line's and parameter files' values until a parameter
    is declared.)"""
    if not isinstance(default, float):
        return
    overrides = getattr(node, "_parameter_overrides", None)
    given = overrides.get(name) if isinstance(overrides, dict) else None
    if given is not None and given.type_ == Parameter.Type.INTEGER:
        overrides[name] = Parameter(name, Parameter.Type.DOUBLE, float(given.value))


def check_topic_name(node: Node, parameter: str, topic: str) -> str:
    """The fully resolved topic name, or ValueError naming the parameter and why the name is invalid
    (so a bad name is one line and exit 2 before anything is built)."""
    from rclpy.validate_full_topic_name import validate_full_topic_name

    try:
        resolved = node.resolve_topic_name(topic)
        validate_full_topic_name(resolved)
    except Exception as exc:  # RCLError from rcl's expansion, InvalidTopicNameException from validation
        why = str(exc).split(", at /")[0].removeprefix("failed to resolve name: ")
        raise ValueError(f"parameter '{parameter}': invalid topic name {topic!r}: {' '.join(why.split())}") from None
    return resolved


def _accepts(p: Param) -> str:
    if p.choices:
        return "one of " + ", ".join(p.choices)
    if p.min is not None or p.max is not None:
        return f"values in [{p.min if p.min is not None else '-inf'}, {p.max if p.max is not None else 'inf'}]"
    return f"a {type(p.default).__name__}"


def defaults(params: Sequence[Param], prefix: str = "") -> dict[str, Any]:
    """name -> default (dotted with ``prefix``), for tests and documentation."""
    return {(f"{prefix}.{p.name}" if prefix else p.name): p.default for p in params}


def parameter_type(value: Any) -> Parameter.Type:
    return Parameter.Type.from_parameter_value(value)
