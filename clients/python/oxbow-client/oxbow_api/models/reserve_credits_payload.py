from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from uuid import UUID






T = TypeVar("T", bound="ReserveCreditsPayload")



@_attrs_define
class ReserveCreditsPayload:
    """ 
        Attributes:
            amount (int):
            reservation_id (UUID):
            purpose (str | Unset):  Default: ''.
     """

    amount: int
    reservation_id: UUID
    purpose: str | Unset = ''





    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        reservation_id = str(self.reservation_id)

        purpose = self.purpose


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "amount": amount,
            "reservation_id": reservation_id,
        })
        if purpose is not UNSET:
            field_dict["purpose"] = purpose

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        reservation_id = UUID(d.pop("reservation_id"))




        purpose = d.pop("purpose", UNSET)

        reserve_credits_payload = cls(
            amount=amount,
            reservation_id=reservation_id,
            purpose=purpose,
        )

        return reserve_credits_payload

