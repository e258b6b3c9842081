from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from uuid import UUID






T = TypeVar("T", bound="CaptureCreditsPayload")



@_attrs_define
class CaptureCreditsPayload:
    """ 
        Attributes:
            amount (int):
            reservation_id (UUID):
     """

    amount: int
    reservation_id: UUID





    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        reservation_id = str(self.reservation_id)


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "amount": amount,
            "reservation_id": reservation_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        reservation_id = UUID(d.pop("reservation_id"))




        capture_credits_payload = cls(
            amount=amount,
            reservation_id=reservation_id,
        )

        return capture_credits_payload

