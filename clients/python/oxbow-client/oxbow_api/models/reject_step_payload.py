from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="RejectStepPayload")



@_attrs_define
class RejectStepPayload:
    """ Rejects an approval step: it fails, without a retry, and the run with it (`step_rejected`).

        Attributes:
            reason (str):
            step_id (str):
     """

    reason: str
    step_id: str





    def to_dict(self) -> dict[str, Any]:
        reason = self.reason

        step_id = self.step_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "reason": reason,
            "step_id": step_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        reason = d.pop("reason")

        step_id = d.pop("step_id")

        reject_step_payload = cls(
            reason=reason,
            step_id=step_id,
        )

        return reject_step_payload

