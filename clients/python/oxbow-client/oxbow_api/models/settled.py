from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.settled_settled import SettledSettled
from ..types import UNSET, Unset






T = TypeVar("T", bound="Settled")



@_attrs_define
class Settled:
    """ 
        Attributes:
            settled (SettledSettled):
            error (str | Unset): Why the stream failed again
            id (int | Unset):
            stream_id (str | Unset):
     """

    settled: SettledSettled
    error: str | Unset = UNSET
    id: int | Unset = UNSET
    stream_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        settled = self.settled.value

        error = self.error

        id = self.id

        stream_id = self.stream_id


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "settled": settled,
        })
        if error is not UNSET:
            field_dict["error"] = error
        if id is not UNSET:
            field_dict["id"] = id
        if stream_id is not UNSET:
            field_dict["stream_id"] = stream_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        settled = SettledSettled(d.pop("settled"))




        error = d.pop("error", UNSET)

        id = d.pop("id", UNSET)

        stream_id = d.pop("stream_id", UNSET)

        settled = cls(
            settled=settled,
            error=error,
            id=id,
            stream_id=stream_id,
        )


        settled.additional_properties = d
        return settled

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
