from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.role import Role
from ..models.step_kind_type_0 import StepKindType0
from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast
from uuid import UUID

if TYPE_CHECKING:
  from ..models.retry_policy import RetryPolicy





T = TypeVar("T", bound="Step")



@_attrs_define
class Step:
    """ One step of a workflow: what does it (an agent, or a person or system the run waits for),
    the steps it waits for, and its input: a template over the run's input and its ancestors'
    outputs (see [`crate::template`]). Fields an agent step does not use are left out, so an
    agent step reads as it always did.

        Attributes:
            id (str):
            agent_id (None | Unset | UUID): The agent of an agent step; approval and signal steps have none.
            approvers (None | Role | Unset): An approval's least role that may answer it (`member` when absent).
            depends_on (list[str] | Unset):
            input_ (Any | Unset):  Default: {}.
            kind (Literal['approval'] | Literal['signal'] | StepKindType0 | Unset): What does a step's work: an agent (the
                default), or a person or an outside system whose
                answer the run waits for.
            retry (RetryPolicy | Unset): How often a step is tried, and how long to wait between tries.
            signal_agent_id (None | Unset | UUID): The external agent whose worker may send a signal too.
            signalers (None | Role | Unset): A signal's least role that may send it (`member` when absent).
            timeout_ms (int | None | Unset): The kind's default when absent (see [`StepKind::default_timeout_ms`]); a
                recorded
                definition always holds the number.
     """

    id: str
    agent_id: None | Unset | UUID = UNSET
    approvers: None | Role | Unset = UNSET
    depends_on: list[str] | Unset = UNSET
    input_: Any | Unset = {}
    kind: Literal['approval'] | Literal['signal'] | StepKindType0 | Unset = UNSET
    retry: RetryPolicy | Unset = UNSET
    signal_agent_id: None | Unset | UUID = UNSET
    signalers: None | Role | Unset = UNSET
    timeout_ms: int | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.retry_policy import RetryPolicy # noqa: PLC0415
        id = self.id

        agent_id: None | str | Unset
        if isinstance(self.agent_id, Unset):
            agent_id = UNSET
        elif isinstance(self.agent_id, UUID):
            agent_id = str(self.agent_id)
        else:
            agent_id = self.agent_id

        approvers: None | str | Unset
        if isinstance(self.approvers, Unset):
            approvers = UNSET
        elif isinstance(self.approvers, Role):
            approvers = self.approvers.value
        else:
            approvers = self.approvers

        depends_on: list[str] | Unset = UNSET
        if not isinstance(self.depends_on, Unset):
            depends_on = self.depends_on



        input_ = self.input_

        kind: Literal['approval'] | Literal['signal'] | str | Unset
        if isinstance(self.kind, Unset):
            kind = UNSET
        elif isinstance(self.kind, StepKindType0):
            kind = self.kind.value
        else:
            kind = self.kind

        retry: dict[str, Any] | Unset = UNSET
        if not isinstance(self.retry, Unset):
            retry = self.retry.to_dict()

        signal_agent_id: None | str | Unset
        if isinstance(self.signal_agent_id, Unset):
            signal_agent_id = UNSET
        elif isinstance(self.signal_agent_id, UUID):
            signal_agent_id = str(self.signal_agent_id)
        else:
            signal_agent_id = self.signal_agent_id

        signalers: None | str | Unset
        if isinstance(self.signalers, Unset):
            signalers = UNSET
        elif isinstance(self.signalers, Role):
            signalers = self.signalers.value
        else:
            signalers = self.signalers

        timeout_ms: int | None | Unset
        if isinstance(self.timeout_ms, Unset):
            timeout_ms = UNSET
        else:
            timeout_ms = self.timeout_ms


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "id": id,
        })
        if agent_id is not UNSET:
            field_dict["agent_id"] = agent_id
        if approvers is not UNSET:
            field_dict["approvers"] = approvers
        if depends_on is not UNSET:
            field_dict["depends_on"] = depends_on
        if input_ is not UNSET:
            field_dict["input"] = input_
        if kind is not UNSET:
            field_dict["kind"] = kind
        if retry is not UNSET:
            field_dict["retry"] = retry
        if signal_agent_id is not UNSET:
            field_dict["signal_agent_id"] = signal_agent_id
        if signalers is not UNSET:
            field_dict["signalers"] = signalers
        if timeout_ms is not UNSET:
            field_dict["timeout_ms"] = timeout_ms

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.retry_policy import RetryPolicy # noqa: PLC0415
        d = dict(src_dict)
        id = d.pop("id")

        def _parse_agent_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                agent_id_type_0 = UUID(data)



                return agent_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        agent_id = _parse_agent_id(d.pop("agent_id", UNSET))


        def _parse_approvers(data: object) -> None | Role | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                approvers_type_0 = Role(data)



                return approvers_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Role | Unset, data)

        approvers = _parse_approvers(d.pop("approvers", UNSET))


        depends_on = cast(list[str], d.pop("depends_on", UNSET))


        input_ = d.pop("input", UNSET)

        def _parse_kind(data: object) -> Literal['approval'] | Literal['signal'] | StepKindType0 | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_step_kind_type_0 = StepKindType0(data)



                return componentsschemas_step_kind_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            componentsschemas_step_kind_type_1 = cast(Literal['approval'] , data)
            if componentsschemas_step_kind_type_1 != 'approval':
                raise ValueError(f"/components/schemas/StepKind_type_1 must match const 'approval', got '{componentsschemas_step_kind_type_1}'")
            return componentsschemas_step_kind_type_1
            componentsschemas_step_kind_type_2 = cast(Literal['signal'] , data)
            if componentsschemas_step_kind_type_2 != 'signal':
                raise ValueError(f"/components/schemas/StepKind_type_2 must match const 'signal', got '{componentsschemas_step_kind_type_2}'")
            return componentsschemas_step_kind_type_2

        kind = _parse_kind(d.pop("kind", UNSET))


        _retry = d.pop("retry", UNSET)
        retry: RetryPolicy | Unset
        if isinstance(_retry,  Unset):
            retry = UNSET
        else:
            retry = RetryPolicy.from_dict(_retry)




        def _parse_signal_agent_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                signal_agent_id_type_0 = UUID(data)



                return signal_agent_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        signal_agent_id = _parse_signal_agent_id(d.pop("signal_agent_id", UNSET))


        def _parse_signalers(data: object) -> None | Role | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                signalers_type_0 = Role(data)



                return signalers_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Role | Unset, data)

        signalers = _parse_signalers(d.pop("signalers", UNSET))


        def _parse_timeout_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout_ms = _parse_timeout_ms(d.pop("timeout_ms", UNSET))


        step = cls(
            id=id,
            agent_id=agent_id,
            approvers=approvers,
            depends_on=depends_on,
            input_=input_,
            kind=kind,
            retry=retry,
            signal_agent_id=signal_agent_id,
            signalers=signalers,
            timeout_ms=timeout_ms,
        )

        return step

