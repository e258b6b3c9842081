from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.role import Role
from ..types import UNSET, Unset
from typing import cast
from uuid import UUID






T = TypeVar("T", bound="InviteMemberPayload")



@_attrs_define
class InviteMemberPayload:
    """ 
        Attributes:
            email (str):
            role (Role): A member's role in a workspace, from most to least powerful.
            invitation_id (None | Unset | UUID): Made by the server when absent, and returned in the response's events.
     """

    email: str
    role: Role
    invitation_id: None | Unset | UUID = UNSET





    def to_dict(self) -> dict[str, Any]:
        email = self.email

        role = self.role.value

        invitation_id: None | str | Unset
        if isinstance(self.invitation_id, Unset):
            invitation_id = UNSET
        elif isinstance(self.invitation_id, UUID):
            invitation_id = str(self.invitation_id)
        else:
            invitation_id = self.invitation_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "email": email,
            "role": role,
        })
        if invitation_id is not UNSET:
            field_dict["invitation_id"] = invitation_id

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        email = d.pop("email")

        role = Role(d.pop("role"))




        def _parse_invitation_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                invitation_id_type_0 = UUID(data)



                return invitation_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        invitation_id = _parse_invitation_id(d.pop("invitation_id", UNSET))


        invite_member_payload = cls(
            email=email,
            role=role,
            invitation_id=invitation_id,
        )

        return invite_member_payload

