from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
from uuid import UUID

if TYPE_CHECKING:
  from ..models.accepted_events_item_payload import AcceptedEventsItemPayload





T = TypeVar("T", bound="AcceptedEventsItem")



@_attrs_define
class AcceptedEventsItem:
    """ 
        Attributes:
            id (UUID):
            payload (AcceptedEventsItemPayload):
            position (int):
            type_ (str):
     """

    id: UUID
    payload: AcceptedEventsItemPayload
    position: int
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.accepted_events_item_payload import AcceptedEventsItemPayload # noqa: PLC0415
        id = str(self.id)

        payload = self.payload.to_dict()

        position = self.position

        type_ = self.type_


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "payload": payload,
            "position": position,
            "type": type_,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.accepted_events_item_payload import AcceptedEventsItemPayload # noqa: PLC0415
        d = dict(src_dict)
        id = UUID(d.pop("id"))




        payload = AcceptedEventsItemPayload.from_dict(d.pop("payload"))




        position = d.pop("position")

        type_ = d.pop("type")

        accepted_events_item = cls(
            id=id,
            payload=payload,
            position=position,
            type_=type_,
        )


        accepted_events_item.additional_properties = d
        return accepted_events_item

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
