"""Load a recipe: YAML -> OmegaConf (inheritance, overrides, interpolation) -> pydantic Recipe.

Every failure is a ConfigError naming the file, line and dotted key, raised before any work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import ValidationError

from sdgflow.config.errors import ConfigError
from sdgflow.config.locate import dotted, line_of
from sdgflow.config.models import LLM_TYPES, LLMJudgeColumn, Recipe, SubcategoryColumn
from sdgflow.config.prompts import dependency_order, template_variables
from sdgflow.config.providers import BUILTIN_PROVIDERS
from sdgflow.validate.config import judge_rule_problems

CONFIGS_DIR = Path("configs")
# Keys a Snakemake `--config` may carry besides recipe keys: the recipe selector and the dotlist.
SELECT_KEY, DOTLIST_KEY = "sdg", "set"


def recipe_path(name_or_path: str, configs_dir: Path = CONFIGS_DIR) -> Path:
    """`customer_support_tools` -> configs/customer_support_tools.yaml; a path stays a path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return candidate
    named = configs_dir / f"{name_or_path}.yaml"
    if named.exists():
        return named
    known = sorted(p.stem for p in configs_dir.glob("*.yaml")) if configs_dir.is_dir() else []
    raise ConfigError(
        f"no recipe '{name_or_path}' (looked for {named} and the path itself)",
        fix=f"use one of: {', '.join(known) or '(no recipes in ' + str(configs_dir) + ')'}, "
        "or pass a path to a YAML file",
    )


def load_recipe(
    name_or_path: str,
    overrides: Iterable[str] = (),
    values: Mapping[str, Any] | None = None,
    configs_dir: Path = CONFIGS_DIR,
) -> Recipe:
    """The resolved, validated recipe.

    `overrides` are OmegaConf dotlist entries (`models.0.inference_parameters.temperature=0.5`);
    `values` are top-level keys already parsed (Snakemake `--config num_records=200`).
    """
    path = recipe_path(name_or_path, configs_dir)
    raw = _load_with_defaults(path, chain=())
    raw = _apply_overrides(raw, path, list(overrides), dict(values or {}))
    _reject_interpolated_secrets(raw, path)
    data = _resolve(raw, path)
    data["name"], data["source"] = path.stem, str(path)
    if data.get("preview"):
        out = Path(str(data.get("output_path", "")))
        base = Path(str(data.get("output_dir", out.parent)))
        data["output_path"] = str(base / "preview" / out.name)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise _from_validation_error(exc, path) from None
    _check_references(recipe, path)
    return _drop_switched_off(recipe, path)


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A key given twice in one mapping: YAML loaders keep the last silently, so an added
    `validation:` block would replace the recipe's own without a word."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                line = first.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: construct_mapping reports it
                continue
            if line != key_node.start_mark.line:
                raise _DuplicateKey(None, None, f"the key '{key}' is given twice (first on line "
                                    f"{line + 1}); the second would silently replace the first",
                                    key_node.start_mark)
        return super().construct_mapping(node, deep)


def _yaml_error(path: Path, exc: Exception) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark else str(path)
    problem = getattr(exc, "problem", None) or str(exc)
    fix = "merge the two into one (keep every key you need under the first)" \
        if isinstance(exc, _DuplicateKey) else "fix the indentation or quoting on that line"
    return ConfigError(f"invalid YAML: {problem}", where=where, fix=fix)


def _load_with_defaults(path: Path, chain: tuple[Path, ...]) -> DictConfig:
    """The file merged over its `defaults:` base(s); cycles are errors."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise ConfigError(f"recipes inherit in a cycle: {cycle}", where=str(path), key="defaults",
                          fix="remove one `defaults:` link so inheritance ends")
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader that refuses repeats
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", where=str(path),
                          fix="save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if not isinstance(node, dict):
        raise ConfigError("a recipe must be a YAML mapping of keys to values", where=str(path),
                          fix="start the file with keys such as `num_records: 100`")
    bases = node.pop("defaults", None)
    conf = OmegaConf.create(node)
    if bases is None:
        return conf
    merged = OmegaConf.create({})
    for base in [bases] if isinstance(bases, str) else list(bases):
        base_path = (path.parent / str(base)).with_suffix(".yaml")
        if not base_path.exists():
            raise ConfigError(f"base recipe '{base}' not found at {base_path}", where=str(path),
                              key="defaults", fix="name a YAML file next to this one")
        merged = OmegaConf.merge(merged, _load_with_defaults(base_path, (*chain, resolved)))
    # Lists (columns, models) replace rather than merge: a child recipe restating columns means it.
    return OmegaConf.merge(merged, conf)


def _apply_overrides(conf: DictConfig, path: Path, dotlist: list[str],
                     values: dict[str, Any]) -> DictConfig:
    valid = sorted(f for f in Recipe.model_fields if f not in ("name", "source"))
    for key in values:
        if key not in valid:
            raise ConfigError(f"unknown override key '{key}'", where="--config", key=key,
                              fix=f"valid keys: {', '.join(valid)}; nested keys go through "
                              f"{DOTLIST_KEY}=[a.b=1, c.d=2]")
    for entry in dotlist:
        key, sep, _ = entry.partition("=")
        if not sep or not key:
            raise ConfigError(f"override '{entry}' is not KEY=VALUE", where="overrides",
                              fix="write overrides as dotted.key=value, e.g. num_records=200")
        top = key.split(".")[0]
        if top not in valid:
            raise ConfigError(f"unknown override key '{key}'", where="overrides", key=key,
                              fix=f"top-level keys are: {', '.join(valid)}")
    try:
        conf = OmegaConf.merge(conf, OmegaConf.create(values))
        for entry in dotlist:
            key, _, value = entry.partition("=")
            # OmegaConf.update walks list indices (models.0.x); from_dotlist would build a dict.
            OmegaConf.update(conf, key.strip(), yaml.safe_load(value) if value else None,
                             merge=True)
        return conf
    except (OmegaConfBaseException, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot apply overrides: {str(exc).splitlines()[0]}", where=str(path),
                          fix="check the override's key path against `sdgflow config show`"
                          ) from None


def _reject_interpolated_secrets(conf: DictConfig, path: Path) -> None:
    for i, provider in enumerate(conf.get("providers") or []):
        raw = OmegaConf.to_container(provider, resolve=False) \
            if OmegaConf.is_config(provider) else provider
        key = raw.get("api_key") if isinstance(raw, dict) else None
        if isinstance(key, str) and "${" in key:
            raise ConfigError(
                "api_key is interpolated, which would put the secret itself into the resolved "
                "config",
                where=_where(path, ["providers", i, "api_key"]), key=f"providers[{i}].api_key",
                fix="write the environment variable's NAME, e.g. `api_key: OPENAI_API_KEY`",
            )


def _resolve(conf: DictConfig, path: Path) -> dict[str, Any]:
    # `${oc.env:PWD}` should mean the working directory; PWD goes stale when a process changes
    # directory without a shell (subprocess cwd=, Snakemake jobs), so pin it to the real cwd.
    os.environ["PWD"] = os.getcwd()
    try:
        data = OmegaConf.to_container(conf, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or ""
        detail = str(exc).splitlines()[0]
        fix = "set the variable, or give a default: ${oc.env:NAME,default}"
        raise ConfigError(f"cannot resolve: {detail}",
                          where=_where(path, _split(key)), key=key or None, fix=fix) from None
    assert isinstance(data, dict)
    return data


def _split(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for part in key.replace("[", ".").replace("]", "").split("."):
        if part:
            parts.append(int(part) if part.isdigit() else part)
    return parts


def _where(path: Path, keys: list[str | int]) -> str:
    line = line_of(path, keys)
    return f"{path}:{line}" if line else str(path)


def _from_validation_error(exc: ValidationError, path: Path) -> ConfigError:
    lines, first_keys = [], None
    for err in exc.errors():
        # Drop discriminator tags (`llm_text`) pydantic inserts into union locations.
        keys = [k for k in err["loc"] if not (isinstance(k, str) and "[" in k)]
        keys = [k for i, k in enumerate(keys) if not _is_union_tag(keys, i)]
        first_keys = first_keys or keys
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see `sdgflow config show` for valid keys)"
        elif err["type"] == "union_tag_invalid":
            keys.append("type")
            msg = f"unknown type '{err['ctx']['tag']}'; valid: {err['ctx']['expected_tags']}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{dotted(keys)}: {msg}")
    head, *rest = lines
    key, _, message = head.partition(": ")
    extra = "".join(f"\n  also: {r}" for r in rest)
    return ConfigError(message + extra, where=_where(path, first_keys or []), key=key,
                       fix="edit that key in the recipe")


_TAGS = {"category", "subcategory", "uniform", "llm_text", "llm_structured", "llm_judge",
         "structured_messages", "openai_messages"}


def _is_union_tag(keys: list[Any], i: int) -> bool:
    return isinstance(keys[i], str) and keys[i] in _TAGS and i > 0 and (
        isinstance(keys[i - 1], int) or keys[i - 1] == "output_projection")


def _check_references(recipe: Recipe, path: Path) -> None:
    """Cross-key checks pydantic cannot do field by field."""

    def fail(keys: list[str | int], message: str, fix: str) -> None:
        raise ConfigError(message, where=_where(path, keys), key=dotted(keys), fix=fix)

    providers = {**BUILTIN_PROVIDERS, **{p.name: p for p in recipe.providers}}
    aliases = [m.alias for m in recipe.models]
    for i, model in enumerate(recipe.models):
        name = recipe.provider or model.provider
        if name not in providers:
            fail(["models", i, "provider"], f"unknown provider '{name}'",
                 f"known: {', '.join(providers)}; or declare it under providers:")
    seen: set[str] = set()
    seed_fields = list(recipe.seed_dataset.fields or [])
    for i, col in enumerate(recipe.columns):
        if col.name in seen or col.name in seed_fields:
            fail(["columns", i, "name"], f"column name '{col.name}' is already used",
                 "give every column and seed field a distinct name")
        seen.add(col.name)
        if isinstance(col, LLM_TYPES) and col.model_alias not in aliases:
            fail(["columns", i, "model_alias"], f"unknown alias '{col.model_alias}'; "
                 f"known: {', '.join(aliases)}", "use an alias declared under models:")
        if isinstance(col, SubcategoryColumn):
            parent = next((c for c in recipe.columns if c.name == col.category), None)
            if parent is None or parent.type != "category":
                fail(["columns", i, "category"], f"'{col.category}' is not a category column",
                     "name a category column declared in columns:")
    if not Path(recipe.seed_dataset.path).is_file():
        fail(["seed_dataset", "path"], f"seed file not found: {recipe.seed_dataset.path}",
             "create it, or point seed_dataset.path at a JSONL file (paths built from "
             "${oc.env:PWD} are relative to the directory you run from)")
    _check_prompts(recipe, path, fail)
    if recipe.budget.max_cost is not None:
        unpriced = sorted({c.model_alias for c in recipe.llm_columns} - set(recipe.report.prices))
        if unpriced:
            fail(["budget", "max_cost"], "a cost cap needs a price for every model it pays; "
                 f"no report.prices for {', '.join(unpriced)}",
                 f"add report.prices.{unpriced[0]}: {{input_per_mtok: ..., output_per_mtok: "
                 "...} (USD per million tokens), or cap with budget.max_tokens instead")
    projection = recipe.output_projection
    known = set(seed_fields) | {c.name for c in recipe.columns}
    judges = {c.name: [s.name for s in c.scores] for c in recipe.columns
              if isinstance(c, LLMJudgeColumn)}
    for i, key, problem in judge_rule_problems(recipe.validation.judge, judges, known):
        fail(["validation", "judge", i, key], problem,
             "name an llm_judge column of the recipe and one of its scores")
    refs = [(k, getattr(projection, k)) for k in ("source_field", "user_field", "assistant_field")
            if hasattr(projection, k)]
    refs += [(f"metadata_fields[{j}]", f) for j, f in enumerate(projection.metadata_fields)]
    for key, field in refs:
        if field not in known:
            fail(["output_projection", key], f"'{field}' is neither a seed field nor a column",
                 f"use one of: {', '.join(sorted(known))}")


def _drop_switched_off(recipe: Recipe, path: Path) -> Recipe:
    """The recipe without its `enabled: false` judge columns and the validation.judge rules on
    them: the build is then the one without the column (same requests, same stage hashes)."""
    off = {c.name for c in recipe.columns if isinstance(c, LLMJudgeColumn) and not c.enabled}
    if not off:
        return recipe
    for i, col in enumerate(recipe.columns):
        if isinstance(col, LLM_TYPES) and col.name not in off:
            read = {name for key in ("prompt", "system_prompt") if getattr(col, key)
                    for name in template_variables(getattr(col, key))} & off
            if read:
                raise ConfigError(f"prompt of '{col.name}' reads {sorted(read)}, which is "
                                  "switched off (enabled: false)",
                                  where=_where(path, ["columns", i, "prompt"]),
                                  key=f"columns[{i}].prompt",
                                  fix="switch that column on, or stop reading it")
    validation = recipe.validation.model_copy(
        update={"judge": [r for r in recipe.validation.judge if r.column not in off]})
    return recipe.model_copy(update={"columns": [c for c in recipe.columns if c.name not in off],
                                     "validation": validation})


def _check_prompts(recipe: Recipe, path: Path, fail: Any) -> None:
    seed_fields = set(recipe.seed_dataset.fields or [])
    sampled = {c.name for c in recipe.sampler_columns}
    llm = [c.name for c in recipe.llm_columns]
    reads: dict[str, set[str]] = {}
    for i, col in enumerate(recipe.columns):
        if not isinstance(col, LLM_TYPES):
            continue
        for key in ("prompt", "system_prompt"):
            template = getattr(col, key)
            if template is None:
                continue
            try:
                names = template_variables(template)
            except jinja2.TemplateSyntaxError as exc:
                fail(["columns", i, key], f"Jinja syntax error on prompt line {exc.lineno}: "
                     f"{exc.message}", "fix the {{ ... }} / {% ... %} markup")
            unknown = sorted(names - seed_fields - sampled - set(llm))
            if unknown:
                fail(["columns", i, key], f"prompt uses undefined variable(s) {unknown}; "
                     f"available: {sorted(seed_fields | sampled | set(llm) - {col.name})}",
                     "add the field to seed_dataset.fields, add a column, or fix the name")
            if col.name in names:
                fail(["columns", i, key], f"prompt of '{col.name}' uses its own output",
                     "a column can only read seed fields and other columns")
            reads.setdefault(col.name, set()).update(names & set(llm))
    try:
        dependency_order(reads)
    except ValueError as exc:
        fail(["columns"], str(exc), "break the cycle so some column reads only earlier ones")


def llm_column_order(recipe: Recipe) -> list[str]:
    """LLM column names in the order they must be generated."""
    llm = {c.name for c in recipe.llm_columns}
    reads = {}
    for c in recipe.llm_columns:
        names = template_variables(c.prompt) | template_variables(c.system_prompt or "")
        reads[c.name] = names & llm
    return dependency_order(reads)
