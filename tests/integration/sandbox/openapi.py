"""Validate responses against an OpenAPI 3.0 description with ``jsonschema``.

OpenAPI 3.0 schemas are not JSON Schema: ``nullable: true`` must become a ``"null"`` type (or an ``anyOf``
with one when the schema has no ``type``, e.g. a ``$ref`` or ``allOf``), and an ``enum`` of a nullable
schema must admit ``None``. The converted components become the root document, so ``#/components/...``
references resolve as written.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator


def to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted and None not in converted["enum"]:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


class OpenApi:
    def __init__(self, path: Path) -> None:
        with path.open(encoding="utf-8") as handle:
            document = json.load(handle)
        self.paths: dict[str, Any] = document["paths"]
        self.responses: dict[str, Any] = document["components"].get("responses", {})
        self.components = to_json_schema(document["components"])

    def has(self, method: str, template: str) -> bool:
        return method.lower() in self.paths.get(template, {})

    def documented_statuses(self, method: str, template: str) -> set[int]:
        return {int(code) for code in self.paths[template][method.lower()]["responses"]}

    @cache  # noqa: B019 - one instance per session; the cache is the point
    def validator(self, method: str, template: str, status: int) -> Draft202012Validator | None:
        """The validator of one documented response, or ``None`` when it has no JSON body."""
        response = self.paths[template][method.lower()]["responses"][str(status)]
        if "$ref" in response:
            response = self.responses[response["$ref"].rsplit("/", 1)[-1]]
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        root = dict(to_json_schema(schema))
        root["components"] = self.components
        return Draft202012Validator(root)

    def errors(self, method: str, template: str, status: int, body: Any) -> list[str]:
        """Human-readable schema violations (empty when the body conforms)."""
        validator = self.validator(method, template, status)
        if validator is None:
            return [] if body in (None, b"", "") else [f"{status} has no documented body"]
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message[:300]}"
            for error in validator.iter_errors(body)
        ]
