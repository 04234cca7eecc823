"""Request members checked against botocore's service model before any operation runs.

botocore's models (the files every AWS SDK for Python uses) say which members an operation
takes, which are required and of what type. A request that breaks them — a string where a
list belongs, a member the operation does not have, a required one missing — is the
client's mistake and gets a 400 here, so the operations below never see malformed input.
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.session import get_session

from mqlite.errors import InvalidParameterValue, MissingParameter

__all__ = ["check_input", "service_model"]

_MAX_DEPTH = 16


@functools.cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of *service* (``"sqs"`` or ``"sns"``), loaded once."""
    return get_session().get_service_model(service)


@functools.cache
def operation_model(service: str, operation: str) -> OperationModel | None:
    """The model of *operation*, or ``None`` when *service* has no such operation."""
    model = service_model(service)
    if operation not in model.operation_names:
        return None
    return model.operation_model(operation)


def check_input(operation: OperationModel, params: dict[str, Any]) -> None:
    """Raise ``MissingParameter`` / ``InvalidParameterValue`` if *params* break the model."""
    shape = operation.input_shape
    if shape is None:
        if params:
            raise InvalidParameterValue(f"{operation.name} takes no parameters.")
        return
    _check(shape, params, shape.name, 0)


def _check(shape: Shape, value: Any, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidParameterValue(f"Value for {where} is nested too deeply.")
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Value for {where} must be a structure.")
        for name in shape.required_members:
            if value.get(name) is None:
                raise MissingParameter(f"The request must contain the parameter {name}.")
        for name, member in value.items():
            if name not in shape.members:
                raise InvalidParameterValue(f"Unknown parameter {name} in {where}.")
            if member is not None:
                _check(shape.members[name], member, name, depth + 1)
    elif kind == "list":
        if not isinstance(value, list):
            raise InvalidParameterValue(f"Value for {where} must be a list.")
        for item in value:
            _check(shape.member, item, where, depth + 1)  # type: ignore[attr-defined]
    elif kind == "map":
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Value for {where} must be a map.")
        for key, item in value.items():
            _check(shape.key, key, f"{where} key", depth + 1)  # type: ignore[attr-defined]
            _check(shape.value, item, f"{where}.{key}", depth + 1)  # type: ignore[attr-defined]
    elif kind in ("string", "blob"):
        # Blobs travel as base64 text; the operation decodes (and checks) them.
        if not isinstance(value, str):
            raise InvalidParameterValue(f"Value for {where} must be a string.")
    elif kind in ("integer", "long"):
        if type(value) is not int:
            raise InvalidParameterValue(f"Value for {where} must be an integer.")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidParameterValue(f"Value for {where} must be a boolean.")
    elif kind in ("double", "float") and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise InvalidParameterValue(f"Value for {where} must be a number.")
