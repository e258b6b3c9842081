from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from uuid import UUID






T = TypeVar("T", bound="BeginRunPayload")



@_attrs_define
class BeginRunPayload:
    """ From the run saga: the budget is reserved.

        Attributes:
            reservation_id (UUID):
     """

    reservation_id: UUID





    def to_dict(self) -> dict[str, Any]:
        reservation_id = str(self.reservation_id)


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "reservation_id": reservation_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        reservation_id = UUID(d.pop("reservation_id"))




        begin_run_payload = cls(
            reservation_id=reservation_id,
        )

        return begin_run_payload

