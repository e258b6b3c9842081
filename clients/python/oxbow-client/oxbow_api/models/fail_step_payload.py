from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="FailStepPayload")



@_attrs_define
class FailStepPayload:
    """ 
        Attributes:
            attempt (int):
            error (str):
            retryable (bool):
            step_id (str):
     """

    attempt: int
    error: str
    retryable: bool
    step_id: str





    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        error = self.error

        retryable = self.retryable

        step_id = self.step_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attempt": attempt,
            "error": error,
            "retryable": retryable,
            "step_id": step_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempt = d.pop("attempt")

        error = d.pop("error")

        retryable = d.pop("retryable")

        step_id = d.pop("step_id")

        fail_step_payload = cls(
            attempt=attempt,
            error=error,
            retryable=retryable,
            step_id=step_id,
        )

        return fail_step_payload

