from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="RetryStepPayload")



@_attrs_define
class RetryStepPayload:
    """ From the run saga: a retry's backoff is over.

        Attributes:
            attempt (int):
            step_id (str):
     """

    attempt: int
    step_id: str





    def to_dict(self) -> dict[str, Any]:
        attempt = self.attempt

        step_id = self.step_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attempt": attempt,
            "step_id": step_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempt = d.pop("attempt")

        step_id = d.pop("step_id")

        retry_step_payload = cls(
            attempt=attempt,
            step_id=step_id,
        )

        return retry_step_payload

