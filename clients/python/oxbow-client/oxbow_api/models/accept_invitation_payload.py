from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from uuid import UUID






T = TypeVar("T", bound="AcceptInvitationPayload")



@_attrs_define
class AcceptInvitationPayload:
    """ 
        Attributes:
            invitation_id (UUID):
     """

    invitation_id: UUID





    def to_dict(self) -> dict[str, Any]:
        invitation_id = str(self.invitation_id)


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "invitation_id": invitation_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        invitation_id = UUID(d.pop("invitation_id"))




        accept_invitation_payload = cls(
            invitation_id=invitation_id,
        )

        return accept_invitation_payload

