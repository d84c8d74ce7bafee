"""The schema base every file kind's schema builds on (pydantic), and how a validation
failure becomes one line naming the file and the field.

Why pydantic rather than more hand-written checks: each file kind declares its fields,
types and ranges once, strictly (text is not a number, ``true`` is not 1), and every
failure comes with the path of the field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from photometric.errors import InputError

T = TypeVar("T")


def schema_error(message: str) -> PydanticCustomError:
    """A validation error reading exactly ``message`` (a ValueError would be shown with
    pydantic's 'Value error, ' in front)."""
    return PydanticCustomError("invalid", "{message}", {"message": message})


def check_keys(data: object, schema: type, expected: str = "a mapping") -> object:
    """Before-validator of a section: a non-mapping, unknown keys and missing keys each get one
    plain message listing what is allowed (pydantic's own says 'Extra inputs are not
    permitted', one key at a time, and 'Field required' once per missing key)."""
    if isinstance(data, schema):
        return data
    if not isinstance(data, Mapping):
        raise schema_error(f"expected {expected}")
    fields = schema.__pydantic_fields__  # type: ignore[attr-defined]
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise schema_error(f"unknown key(s) {unknown}; expected {list(fields)}")
    missing = [name for name, f in fields.items() if f.is_required() and name not in data]
    if missing:
        raise schema_error(f"missing key(s) {missing}")
    return data


class Schema(BaseModel):
    """Base of the file schemas: unknown keys are errors, values are checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    expected: ClassVar[str] = "a mapping"

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data: object) -> object:
        return check_keys(data, cls, cls.expected)


#: A finite number; strict, so '1.5' (text) and true are refused rather than converted.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Positive = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]


def validate(schema: type[T], data: object, source: str) -> T:
    """``data`` as ``schema`` (a pydantic model); the first problem as one InputError line:
    ``FILE: field.path: what was expected (got VALUE)``."""
    try:
        return schema.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise InputError(describe(exc, source)) from None


def describe(exc, source: str) -> str:
    """One line for a pydantic ValidationError: the first problem, and how many more."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
    msg = first["msg"]
    got = first.get("input")
    shown = "" if first["type"] in ("missing", "extra_forbidden") or isinstance(
        got, dict | list) else f" (got {got!r:.60})"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{source}: {loc}: {msg}{shown}{more}"
