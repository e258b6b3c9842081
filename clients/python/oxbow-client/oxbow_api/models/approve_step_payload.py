from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="ApproveStepPayload")



@_attrs_define
class ApproveStepPayload:
    """ Approves an approval step: it succeeds with `{"approved": true, "by", "comment"}`.

        Attributes:
            step_id (str):
            comment (None | str | Unset):
     """

    step_id: str
    comment: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        step_id = self.step_id

        comment: None | str | Unset
        if isinstance(self.comment, Unset):
            comment = UNSET
        else:
            comment = self.comment


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "step_id": step_id,
        })
        if comment is not UNSET:
            field_dict["comment"] = comment

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        step_id = d.pop("step_id")

        def _parse_comment(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        comment = _parse_comment(d.pop("comment", UNSET))


        approve_step_payload = cls(
            step_id=step_id,
            comment=comment,
        )

        return approve_step_payload

