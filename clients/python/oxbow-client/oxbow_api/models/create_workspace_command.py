from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast
from uuid import UUID

if TYPE_CHECKING:
  from ..models.create_workspace_payload import CreateWorkspacePayload





T = TypeVar("T", bound="CreateWorkspaceCommand")



@_attrs_define
class CreateWorkspaceCommand:
    """ 
        Attributes:
            id (UUID): The aggregate's id; the client chooses it for creating commands.
            payload (CreateWorkspacePayload):
            type_ (Literal['CreateWorkspace']):
            expected_version (int | Unset): Optimistic concurrency: the version the aggregate must be at.
     """

    id: UUID
    payload: CreateWorkspacePayload
    type_: Literal['CreateWorkspace']
    expected_version: int | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.create_workspace_payload import CreateWorkspacePayload # noqa: PLC0415
        id = str(self.id)

        payload = self.payload.to_dict()

        type_ = self.type_

        expected_version = self.expected_version


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "id": id,
            "payload": payload,
            "type": type_,
        })
        if expected_version is not UNSET:
            field_dict["expected_version"] = expected_version

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.create_workspace_payload import CreateWorkspacePayload # noqa: PLC0415
        d = dict(src_dict)
        id = UUID(d.pop("id"))




        payload = CreateWorkspacePayload.from_dict(d.pop("payload"))




        type_ = cast(Literal['CreateWorkspace'] , d.pop("type"))
        if type_ != 'CreateWorkspace':
            raise ValueError(f"type must match const 'CreateWorkspace', got '{type_}'")

        expected_version = d.pop("expected_version", UNSET)

        create_workspace_command = cls(
            id=id,
            payload=payload,
            type_=type_,
            expected_version=expected_version,
        )

        return create_workspace_command

