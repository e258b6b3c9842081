from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.dead_letters_response_200_parked_item import DeadLettersResponse200ParkedItem
  from ..models.dead_letters_response_200_set_aside_item import DeadLettersResponse200SetAsideItem





T = TypeVar("T", bound="DeadLettersResponse200")



@_attrs_define
class DeadLettersResponse200:
    """ 
        Attributes:
            parked (list[DeadLettersResponse200ParkedItem]):
            set_aside (list[DeadLettersResponse200SetAsideItem]):
     """

    parked: list[DeadLettersResponse200ParkedItem]
    set_aside: list[DeadLettersResponse200SetAsideItem]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.dead_letters_response_200_parked_item import DeadLettersResponse200ParkedItem # noqa: PLC0415
        from ..models.dead_letters_response_200_set_aside_item import DeadLettersResponse200SetAsideItem # noqa: PLC0415
        parked = []
        for parked_item_data in self.parked:
            parked_item = parked_item_data.to_dict()
            parked.append(parked_item)



        set_aside = []
        for set_aside_item_data in self.set_aside:
            set_aside_item = set_aside_item_data.to_dict()
            set_aside.append(set_aside_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "parked": parked,
            "set_aside": set_aside,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.dead_letters_response_200_parked_item import DeadLettersResponse200ParkedItem # noqa: PLC0415
        from ..models.dead_letters_response_200_set_aside_item import DeadLettersResponse200SetAsideItem # noqa: PLC0415
        d = dict(src_dict)
        parked = []
        _parked = d.pop("parked")
        for parked_item_data in (_parked):
            parked_item = DeadLettersResponse200ParkedItem.from_dict(parked_item_data)



            parked.append(parked_item)


        set_aside = []
        _set_aside = d.pop("set_aside")
        for set_aside_item_data in (_set_aside):
            set_aside_item = DeadLettersResponse200SetAsideItem.from_dict(set_aside_item_data)



            set_aside.append(set_aside_item)


        dead_letters_response_200 = cls(
            parked=parked,
            set_aside=set_aside,
        )


        dead_letters_response_200.additional_properties = d
        return dead_letters_response_200

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
