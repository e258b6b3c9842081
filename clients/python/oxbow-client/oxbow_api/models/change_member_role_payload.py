from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.role import Role






T = TypeVar("T", bound="ChangeMemberRolePayload")



@_attrs_define
class ChangeMemberRolePayload:
    """ 
        Attributes:
            role (Role): A member's role in a workspace, from most to least powerful.
            user_id (str):
     """

    role: Role
    user_id: str





    def to_dict(self) -> dict[str, Any]:
        role = self.role.value

        user_id = self.user_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "role": role,
            "user_id": user_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        role = Role(d.pop("role"))




        user_id = d.pop("user_id")

        change_member_role_payload = cls(
            role=role,
            user_id=user_id,
        )

        return change_member_role_payload

