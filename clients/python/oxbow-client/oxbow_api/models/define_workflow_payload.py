from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from uuid import UUID

if TYPE_CHECKING:
  from ..models.step import Step





T = TypeVar("T", bound="DefineWorkflowPayload")



@_attrs_define
class DefineWorkflowPayload:
    """ 
        Attributes:
            name (str):
            steps (list[Step]):
            workspace_id (UUID):
            output (Any | Unset): What a run produces, a template over `run.input` and `steps.<id>.output`.
     """

    name: str
    steps: list[Step]
    workspace_id: UUID
    output: Any | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.step import Step # noqa: PLC0415
        name = self.name

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)



        workspace_id = str(self.workspace_id)

        output = self.output


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
            "steps": steps,
            "workspace_id": workspace_id,
        })
        if output is not UNSET:
            field_dict["output"] = output

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.step import Step # noqa: PLC0415
        d = dict(src_dict)
        name = d.pop("name")

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in (_steps):
            steps_item = Step.from_dict(steps_item_data)



            steps.append(steps_item)


        workspace_id = UUID(d.pop("workspace_id"))




        output = d.pop("output", UNSET)

        define_workflow_payload = cls(
            name=name,
            steps=steps,
            workspace_id=workspace_id,
            output=output,
        )

        return define_workflow_payload

