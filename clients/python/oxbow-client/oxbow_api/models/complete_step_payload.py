from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.artifact import Artifact
  from ..models.usage import Usage





T = TypeVar("T", bound="CompleteStepPayload")



@_attrs_define
class CompleteStepPayload:
    """ 
        Attributes:
            attempt (int):
            step_id (str):
            artifacts (list[Artifact] | Unset): The files the attempt produced: their metadata, never their bytes.
            output (Any | Unset):
            usage (Usage | Unset): What an attempt used: input and output tokens apart, as LLM platforms price them (and as
                OpenTelemetry's GenAI conventions name them).
     """

    attempt: int
    step_id: str
    artifacts: list[Artifact] | Unset = UNSET
    output: Any | Unset = UNSET
    usage: Usage | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.artifact import Artifact # noqa: PLC0415
        from ..models.usage import Usage # noqa: PLC0415
        attempt = self.attempt

        step_id = self.step_id

        artifacts: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.artifacts, Unset):
            artifacts = []
            for artifacts_item_data in self.artifacts:
                artifacts_item = artifacts_item_data.to_dict()
                artifacts.append(artifacts_item)



        output = self.output

        usage: dict[str, Any] | Unset = UNSET
        if not isinstance(self.usage, Unset):
            usage = self.usage.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attempt": attempt,
            "step_id": step_id,
        })
        if artifacts is not UNSET:
            field_dict["artifacts"] = artifacts
        if output is not UNSET:
            field_dict["output"] = output
        if usage is not UNSET:
            field_dict["usage"] = usage

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.artifact import Artifact # noqa: PLC0415
        from ..models.usage import Usage # noqa: PLC0415
        d = dict(src_dict)
        attempt = d.pop("attempt")

        step_id = d.pop("step_id")

        _artifacts = d.pop("artifacts", UNSET)
        artifacts: list[Artifact] | Unset = UNSET
        if _artifacts is not UNSET:
            artifacts = []
            for artifacts_item_data in _artifacts:
                artifacts_item = Artifact.from_dict(artifacts_item_data)



                artifacts.append(artifacts_item)


        output = d.pop("output", UNSET)

        _usage = d.pop("usage", UNSET)
        usage: Usage | Unset
        if isinstance(_usage,  Unset):
            usage = UNSET
        else:
            usage = Usage.from_dict(_usage)




        complete_step_payload = cls(
            attempt=attempt,
            step_id=step_id,
            artifacts=artifacts,
            output=output,
            usage=usage,
        )

        return complete_step_payload

