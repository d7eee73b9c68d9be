"""A contract's interface, read from its source: methods, views, parameters, events.

``contract_abi(source)`` first validates the source with the VM's own allow-list
(``vm.validate.validate_source``: a bad contract raises ``ContractValidationError`` with
rule, line and column), then reads from the syntax tree what the VM does not keep:

* every ``@export`` / ``@view`` function with its parameters (name, annotation as
  written, constant default) and return annotation;
* every event, from the ``emit("Name", field=...)`` calls with a literal name, with the
  field names in the order of the first such call (calls that use a computed name are
  counted in ``dynamic_events``).

Annotations are documentation to the VM (it strips them); the ABI shows them so that
tools can convert JSON input (``"amount": {"$int": "…"}``) or generate typed clients.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from vm.validate import validate_source

Json = Any


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str | None  # the annotation as written, e.g. "bytes", "int"
    default: Json = None
    has_default: bool = False

    def to_json(self) -> dict[str, Json]:
        entry: dict[str, Json] = {"name": self.name, "type": self.type}
        if self.has_default:
            entry["default"] = self.default
        return entry


@dataclass(frozen=True, slots=True)
class MethodAbi:
    name: str
    kind: str  # "export" or "view"
    params: tuple[Parameter, ...]
    returns: str | None
    doc: str = ""

    def to_json(self) -> dict[str, Json]:
        return {"name": self.name, "kind": self.kind,
                "params": [param.to_json() for param in self.params],
                "returns": self.returns, "doc": self.doc}


@dataclass(frozen=True, slots=True)
class EventAbi:
    name: str
    fields: tuple[str, ...]

    def to_json(self) -> dict[str, Json]:
        return {"name": self.name, "fields": list(self.fields)}


@dataclass(frozen=True, slots=True)
class ContractAbi:
    methods: tuple[MethodAbi, ...]
    events: tuple[EventAbi, ...]
    storage: dict[str, str] = field(default_factory=dict)
    dynamic_events: int = 0

    def method(self, name: str) -> MethodAbi | None:
        return next((item for item in self.methods if item.name == name), None)

    def to_json(self) -> dict[str, Json]:
        return {"methods": [item.to_json() for item in self.methods if item.kind == "export"],
                "views": [item.to_json() for item in self.methods if item.kind == "view"],
                "events": [item.to_json() for item in self.events],
                "storage": dict(sorted(self.storage.items())),
                "dynamic_events": self.dynamic_events}


def contract_abi(source: str) -> ContractAbi:
    """The interface of a valid contract (raises ContractValidationError otherwise)."""
    tree, info = validate_source(source)
    methods = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and info.functions[node.name].kind != "internal":
            methods.append(_method(node, info.functions[node.name].kind))
    events, dynamic = _events(tree)
    return ContractAbi(tuple(methods), events, dict(info.storage), dynamic)


def _method(node: ast.FunctionDef, kind: str) -> MethodAbi:
    arguments = node.args.args
    defaults = node.args.defaults
    first_default = len(arguments) - len(defaults)
    params = []
    for index, argument in enumerate(arguments):
        annotation = None if argument.annotation is None else ast.unparse(argument.annotation)
        if index >= first_default:
            default = ast.literal_eval(defaults[index - first_default])
            params.append(Parameter(argument.arg, annotation, _json_default(default), True))
        else:
            params.append(Parameter(argument.arg, annotation))
    returns = None if node.returns is None else ast.unparse(node.returns)
    return MethodAbi(node.name, kind, tuple(params), returns, ast.get_docstring(node) or "")


def _json_default(value: Any) -> Json:
    from agora_sdk.values import to_json

    return to_json(list(value) if isinstance(value, tuple) else value)


def _events(tree: ast.Module) -> tuple[tuple[EventAbi, ...], int]:
    found: dict[str, tuple[str, ...]] = {}
    dynamic = 0
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "emit" and node.args):
            continue
        name = node.args[0]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            fields = tuple(keyword.arg for keyword in node.keywords if keyword.arg)
            found.setdefault(name.value, fields)
        else:
            dynamic += 1
    return tuple(EventAbi(name, fields) for name, fields in sorted(found.items())), dynamic
