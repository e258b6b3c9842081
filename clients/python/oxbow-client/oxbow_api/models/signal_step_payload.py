from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="SignalStepPayload")



@_attrs_define
class SignalStepPayload:
    """ Answers a signal step: `payload` is its output.

        Attributes:
            payload (Any):
            step_id (str):
     """

    payload: Any
    step_id: str





    def to_dict(self) -> dict[str, Any]:
        payload = self.payload

        step_id = self.step_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "payload": payload,
            "step_id": step_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        payload = d.pop("payload")

        step_id = d.pop("step_id")

        signal_step_payload = cls(
            payload=payload,
            step_id=step_id,
        )

        return signal_step_payload

