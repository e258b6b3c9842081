from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast

if TYPE_CHECKING:
  from ..models.executor_builtin_config import ExecutorBuiltinConfig





T = TypeVar("T", bound="ExecutorBuiltin")



@_attrs_define
class ExecutorBuiltin:
    """ In-process.

        Attributes:
            name (Literal['echo'] | Literal['fail'] | Literal['sleep'] | Literal['usage']): The deterministic built-in
                executors, for development, demos and tests.
            type_ (Literal['builtin']):
            config (ExecutorBuiltinConfig | Unset):
     """

    name: Literal['echo'] | Literal['fail'] | Literal['sleep'] | Literal['usage']
    type_: Literal['builtin']
    config: ExecutorBuiltinConfig | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.executor_builtin_config import ExecutorBuiltinConfig # noqa: PLC0415
        name: Literal['echo'] | Literal['fail'] | Literal['sleep'] | Literal['usage']
        name = self.name

        type_ = self.type_

        config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.config, Unset):
            config = self.config.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
            "type": type_,
        })
        if config is not UNSET:
            field_dict["config"] = config

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.executor_builtin_config import ExecutorBuiltinConfig # noqa: PLC0415
        d = dict(src_dict)
        def _parse_name(data: object) -> Literal['echo'] | Literal['fail'] | Literal['sleep'] | Literal['usage']:
            componentsschemas_builtin_type_0 = cast(Literal['echo'] , data)
            if componentsschemas_builtin_type_0 != 'echo':
                raise ValueError(f"/components/schemas/Builtin_type_0 must match const 'echo', got '{componentsschemas_builtin_type_0}'")
            return componentsschemas_builtin_type_0
            componentsschemas_builtin_type_1 = cast(Literal['sleep'] , data)
            if componentsschemas_builtin_type_1 != 'sleep':
                raise ValueError(f"/components/schemas/Builtin_type_1 must match const 'sleep', got '{componentsschemas_builtin_type_1}'")
            return componentsschemas_builtin_type_1
            componentsschemas_builtin_type_2 = cast(Literal['fail'] , data)
            if componentsschemas_builtin_type_2 != 'fail':
                raise ValueError(f"/components/schemas/Builtin_type_2 must match const 'fail', got '{componentsschemas_builtin_type_2}'")
            return componentsschemas_builtin_type_2
            componentsschemas_builtin_type_3 = cast(Literal['usage'] , data)
            if componentsschemas_builtin_type_3 != 'usage':
                raise ValueError(f"/components/schemas/Builtin_type_3 must match const 'usage', got '{componentsschemas_builtin_type_3}'")
            return componentsschemas_builtin_type_3

        name = _parse_name(d.pop("name"))


        type_ = cast(Literal['builtin'] , d.pop("type"))
        if type_ != 'builtin':
            raise ValueError(f"type must match const 'builtin', got '{type_}'")

        _config = d.pop("config", UNSET)
        config: ExecutorBuiltinConfig | Unset
        if isinstance(_config,  Unset):
            config = UNSET
        else:
            config = ExecutorBuiltinConfig.from_dict(_config)




        executor_builtin = cls(
            name=name,
            type_=type_,
            config=config,
        )

        return executor_builtin

