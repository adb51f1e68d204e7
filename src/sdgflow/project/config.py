"""Recipe models of `output_projection`: how a generated record becomes one training row."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class StructuredMessagesProjection(BaseModel):
    """One LLM text column holds a JSON object with `messages` and `tools` (reference recipe)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["structured_messages"]
    source_field: str
    messages_field: str = "messages"
    tools_field: str = "tools"
    metadata_fields: list[str] = []
    # `string`: OpenAI wire format (arguments are JSON strings). `object`: dicts, for chat
    # templates that render arguments themselves (Llama 3.1, Qwen2.5, gpt-oss).
    arguments_format: Literal["string", "object"] = "string"
    # `list`: JSON arrays. `json_string`: each one JSON string (the array's compact text), for
    # loaders that infer one Arrow struct per column: datasets < 4.7 gives every tool the other
    # tools' parameters as nulls, and every message the keys of all others (and, with
    # arguments_format object, every call the other functions' arguments) as nulls.
    tools_format: Literal["list", "json_string"] = "list"
    messages_format: Literal["list", "json_string"] = "list"


class OpenAIMessagesProjection(BaseModel):
    """A user column and an assistant column become `[system?, user, assistant]` messages."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["openai_messages"]
    user_field: str
    assistant_field: str
    system_prompt: str | None = None
    metadata_fields: list[str] = []


OutputProjection = Annotated[
    StructuredMessagesProjection | OpenAIMessagesProjection, Field(discriminator="type")
]
