from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.step import Step





T = TypeVar("T", bound="ReviseWorkflowPayload")



@_attrs_define
class ReviseWorkflowPayload:
    """ A new version: the whole new definition (the name stays when absent, and so does nothing
    else: an absent `output` means none).

        Attributes:
            steps (list[Step]):
            name (None | str | Unset):
            output (Any | Unset):
     """

    steps: list[Step]
    name: None | str | Unset = UNSET
    output: Any | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.step import Step # noqa: PLC0415
        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)



        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        output = self.output


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "steps": steps,
        })
        if name is not UNSET:
            field_dict["name"] = name
        if output is not UNSET:
            field_dict["output"] = output

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.step import Step # noqa: PLC0415
        d = dict(src_dict)
        steps = []
        _steps = d.pop("steps")
        for steps_item_data in (_steps):
            steps_item = Step.from_dict(steps_item_data)



            steps.append(steps_item)


        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))


        output = d.pop("output", UNSET)

        revise_workflow_payload = cls(
            steps=steps,
            name=name,
            output=output,
        )

        return revise_workflow_payload

