from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from uuid import UUID






T = TypeVar("T", bound="StartRunPayload")



@_attrs_define
class StartRunPayload:
    """ 
        Attributes:
            budget (int): The most credits the run may use.
            workflow_id (UUID):
            workspace_id (UUID):
            input_ (Any | Unset):
            retry_of (None | Unset | UUID): A run of the same workflow that failed or was cancelled: the steps that
                succeeded there
                with the same input are reused, not run again. Without `input` (or with `null`), the
                retry takes that run's input; without `workflow_version`, its version.
            workflow_version (int | None | Unset): The current version when absent.
     """

    budget: int
    workflow_id: UUID
    workspace_id: UUID
    input_: Any | Unset = UNSET
    retry_of: None | Unset | UUID = UNSET
    workflow_version: int | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        budget = self.budget

        workflow_id = str(self.workflow_id)

        workspace_id = str(self.workspace_id)

        input_ = self.input_

        retry_of: None | str | Unset
        if isinstance(self.retry_of, Unset):
            retry_of = UNSET
        elif isinstance(self.retry_of, UUID):
            retry_of = str(self.retry_of)
        else:
            retry_of = self.retry_of

        workflow_version: int | None | Unset
        if isinstance(self.workflow_version, Unset):
            workflow_version = UNSET
        else:
            workflow_version = self.workflow_version


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "budget": budget,
            "workflow_id": workflow_id,
            "workspace_id": workspace_id,
        })
        if input_ is not UNSET:
            field_dict["input"] = input_
        if retry_of is not UNSET:
            field_dict["retry_of"] = retry_of
        if workflow_version is not UNSET:
            field_dict["workflow_version"] = workflow_version

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        budget = d.pop("budget")

        workflow_id = UUID(d.pop("workflow_id"))




        workspace_id = UUID(d.pop("workspace_id"))




        input_ = d.pop("input", UNSET)

        def _parse_retry_of(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                retry_of_type_0 = UUID(data)



                return retry_of_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        retry_of = _parse_retry_of(d.pop("retry_of", UNSET))


        def _parse_workflow_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        workflow_version = _parse_workflow_version(d.pop("workflow_version", UNSET))


        start_run_payload = cls(
            budget=budget,
            workflow_id=workflow_id,
            workspace_id=workspace_id,
            input_=input_,
            retry_of=retry_of,
            workflow_version=workflow_version,
        )

        return start_run_payload

