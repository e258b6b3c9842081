from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="RetrySagaWorkBody")



@_attrs_define
class RetrySagaWorkBody:
    """ 
        Attributes:
            id (int): The work's id, as projections { sagas } and `oxbow projections status` show it
     """

    id: int





    def to_dict(self) -> dict[str, Any]:
        id = self.id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "id": id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        retry_saga_work_body = cls(
            id=id,
        )

        return retry_saga_work_body

