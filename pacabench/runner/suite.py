"""The suite file: what a sweep measures, validated before anything runs.

A suite is YAML checked against a pydantic schema (unknown keys are errors). ``load_suite`` turns
every problem into one line ``FILE: FIELD.PATH: problem; fix`` so a user can repair the file without
reading a traceback. Example::

    name: my_sweep
    targets:
      - operator: paca
        params: {clusters: 49}
      - model: swin_tiny_patch4_window7_224
        resolutions: [224, 448]          # per-target override
        compile: true                    # so are channels_last and compile
    resolutions: [224, "320x640", {start: 256, stop: 512, step: 128}]
    budget: {seconds: 20}
    expectations: {op:paca: linear}
"""
from __future__ import annotations

import reprlib
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PositiveFloat, PositiveInt,
                      PrivateAttr, ValidationError, ValidationInfo, field_serializer, field_validator,
                      model_validator)

# Bounds far above any real suite (the shipped ones are under 4 KB and 100 cells), so that reading a
# mistaken or hostile file costs at most about a second and little memory, whatever it holds.
MAX_SUITE_BYTES = 256 * 1024
MAX_DEPTH = 32        # nesting of lists and mappings, counting what YAML aliases bring in
MAX_VALUES = 100_000  # values in the document, counting an alias's values at each use
MAX_SIZES = 1_000     # entries in one `resolutions:` list, and sizes in one range
MAX_ALL_SIZES = 10_000  # sizes in all the suite's resolutions lists, ranges expanded
MAX_TARGETS = 100     # entries under `targets:` (an unknown name costs a search for close names)
MAX_CELLS = 10_000    # cells in the whole suite
MAX_PASSES = 10       # timing passes of every timed cell

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
Dtype = Literal["float32", "bfloat16", "float16"]
Mode = Literal["inference", "train"]
Device = Literal["auto", "cpu", "cuda"]
Metric = Literal["flops", "params", "memory", "latency"]
Expectation = Literal["linear", "quadratic"]
ExpectedMetric = Literal["gmacs", "mixing", "bytes", "memory", "latency"]
VERDICTS, EXPECTED_METRICS = Expectation.__args__, ExpectedMetric.__args__


def _expectations(value):
    """One line per bad expectation (not one per branch of the union it could have been)."""
    if not isinstance(value, dict):
        return value
    for label, expected in value.items():
        pairs = expected.items() if isinstance(expected, dict) else [(None, expected)]
        for metric, verdict in pairs:
            where = f"{label}" + (f".{metric}" if metric is not None else "")
            if metric is not None and metric not in EXPECTED_METRICS:
                raise ValueError(f"{where}: {metric!r} is no metric; expect one of {', '.join(EXPECTED_METRICS)}")
            if verdict not in VERDICTS:
                raise ValueError(f"{where}: {verdict!r} is no verdict; write linear or quadratic, or per metric "
                                 f"{{gmacs: linear, latency: linear, ...}}")
    return value


Expectations = Annotated[dict[str, Expectation | dict[ExpectedMetric, Expectation]], BeforeValidator(_expectations)]


def _threads(value):
    """``auto`` or a whole number of threads >= 1, refused in one line (not one per branch)."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"{value!r} is no thread count; write auto (the cores other work leaves idle) or a "
                     f"whole number >= 1")


Threads = Annotated[Literal["auto"] | PositiveInt, BeforeValidator(_threads)]


class SuiteError(Exception):
    """A suite that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def parse_hw(text: str) -> tuple[int, int]:
    """``"320x640"`` (height x width) -> (320, 640); ValueError for anything else."""
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected \"HxW\" such as \"320x640\", got {reprlib.repr(text)}")
    return int(parts[0]), int(parts[1])


def _parse_size(value: Any, info: ValidationInfo) -> list[tuple[int, int]]:
    """One resolution item -> the (height, width) sizes it stands for."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 224, \"320x640\" or {{start, stop, step}}, got {value!r}")
    if isinstance(value, int):
        sizes = [(value, value)] if _spend(info, 1) else []
    elif isinstance(value, str):
        sizes = [parse_hw(value)] if _spend(info, 1) else []
    elif isinstance(value, dict):
        steps = _expand_range(value)
        sizes = [(r, r) for r in steps] if _spend(info, len(steps)) else []
    else:
        raise ValueError(f"expected a size like 224, \"320x640\" or {{start, stop, step}}, "
                         f"got {type(value).__name__} {reprlib.repr(value)}")
    for h, w in sizes:
        if h <= 0 or w <= 0:
            raise ValueError(f"sizes must be positive, got {h}x{w}")
    return sizes


def _spend(info: ValidationInfo, count: int) -> bool:
    """Count ``count`` sizes, before they are built, against the MAX_ALL_SIZES of a suite being
    read (``sizes_left`` in the validation context). False once spent: the suite is refused already,
    and its remaining sizes are not built."""
    left = (info.context or {}).get("sizes_left")
    if left is None:
        return True
    if left[0] < 0:
        return False
    left[0] -= count
    if left[0] < 0:
        raise ValueError(f"the resolutions lists give more than {MAX_ALL_SIZES} sizes in all, the most one "
                         f"suite may hold; split the sweep into several suites")
    return True


def _expand_range(spec: dict) -> range:
    """{start, stop, step} -> start, start+step, ... up to and including stop."""
    if set(spec) != {"start", "stop", "step"}:
        raise ValueError(f"a range needs exactly the keys start, stop, step (stop included), "
                         f"got {reprlib.repr(sorted(map(str, spec)))}")
    start, stop, step = (spec[k] for k in ("start", "stop", "step"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop, step)):
        raise ValueError(f"start, stop and step must be integers, got {reprlib.repr(spec)}")
    if step <= 0 or stop < start:
        raise ValueError(f"a range needs step > 0 and stop >= start, got {spec}")
    sizes = range(start, stop + 1, step)
    if len(sizes) > MAX_SIZES:
        raise ValueError(f"this range gives {len(sizes)} sizes, more than the {MAX_SIZES} one range may "
                         f"give; use a larger step or a smaller stop")
    return sizes


ResolutionItem = Annotated[list[tuple[int, int]], BeforeValidator(_parse_size)]


def _flatten(items: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """Sizes in the order written, duplicates dropped."""
    return list(dict.fromkeys(size for item in items for size in item))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_serializer("resolutions", check_fields=False)
    def _sizes_as_text(self, items: list[list[tuple[int, int]]] | None) -> list[str] | None:
        """Dump sizes as "HxW" strings, which load back to the same sizes."""
        return None if items is None else [f"{h}x{w}" for h, w in _flatten(items)]


PREFIXES = {"model": "", "operator": "op:", "python": "py:"}
"""Target kinds (suite keys) and the prefix of their specs elsewhere (``op:vit``, ``py:mod:make``)."""


class Budget(_Strict):
    """Per-cell limits: a cell predicted to exceed them is counted (FLOPs, params) but not timed."""

    seconds: PositiveFloat | None = None
    memory_mb: PositiveFloat | None = None


class TargetEntry(_Strict):
    """One thing to sweep: a backbone (``model:``), a single attention operator (``operator:``), or a
    module from the user's own code (``python: <module>:<callable>``, see pacabench.user_targets)."""

    model: str | None = None
    operator: str | None = None
    python: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None
    resolutions: list[ResolutionItem] | None = Field(default=None, max_length=MAX_SIZES)
    channels_last: bool | None = None  # None: the suite's setting
    compile: bool | None = None        # None: the suite's setting
    budget: Budget | None = None       # None: the suite's (a slow target may need a larger one)

    @field_validator("model", "operator", "python")
    @classmethod
    def _known_target(cls, name: str | None, info: ValidationInfo) -> str | None:
        if name is not None:
            _check_target(info.field_name, name)
        return name

    @field_validator("params")
    @classmethod
    def _known_params(cls, params: dict, info: ValidationInfo) -> dict:
        from pacabench.targets import TargetError

        given = [(kind, info.data[kind]) for kind in PREFIXES if info.data.get(kind) is not None]
        if params and len(given) == 1:
            try:
                _parse(*given[0], params)
            except TargetError as exc:
                raise ValueError(str(exc)) from None
        return params

    @model_validator(mode="after")
    def _one_kind(self) -> "TargetEntry":
        if sum(getattr(self, kind) is not None for kind in PREFIXES) != 1:
            raise ValueError("give exactly one of `model: NAME`, `operator: NAME` or `python: MODULE:CALLABLE`")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in PREFIXES if getattr(self, kind) is not None)

    @property
    def spec(self) -> tuple[str, str, dict]:
        """(kind, name, params) as the targets module parses them (params type-checked there)."""
        return _parse(self.kind, getattr(self, self.kind), self.params)

    @property
    def display_label(self) -> str:
        """Label in results and expectations: explicit ``label``, else name / ``op:<name>``."""
        _, name, _ = self.spec
        return self.label or default_label(self.kind, name)


class Suite(_Strict):
    """A sweep: every target at every size x batch x dtype x mode x device.

    ``repeats`` / ``min_time_s`` / ``warmup`` drive timing (at least ``repeats`` timed runs and at
    least ``min_time_s`` seconds), ``passes`` how often each timed cell is timed, spread over the
    sweep (the median across passes is its latency: :mod:`pacabench.runner.passes`); ``threads`` the
    CPU threads every cell runs with (``auto``: the cores other work leaves idle when the run starts,
    kept on resume); ``timeout_s`` kills a cell's process; ``budget`` skips timing cells
    predicted to exceed it; ``expectations`` (label -> linear | quadratic on GMACs, or label -> {metric:
    verdict} for gmacs, mixing, bytes, memory, latency) are checked after
    the run; ``baseline`` names a results folder or CSV to compare a run with (``pacabench compare``).
    """

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    targets: list[TargetEntry] = Field(min_length=1, max_length=MAX_TARGETS)
    resolutions: list[ResolutionItem] = Field(default_factory=lambda: [[(224, 224)]], min_length=1,
                                              max_length=MAX_SIZES)
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1], min_length=1)
    dtypes: list[Dtype] = Field(default_factory=lambda: ["float32"], min_length=1)
    modes: list[Mode] = Field(default_factory=lambda: ["inference"], min_length=1)
    devices: list[Device] = Field(default_factory=lambda: ["auto"], min_length=1)
    metrics: list[Metric] = Field(default_factory=lambda: ["flops", "params", "memory", "latency"],
                                  min_length=1)
    channels_last: bool = False
    compile: bool = False
    warmup: Annotated[int, Field(ge=0)] = 2
    repeats: PositiveInt = 5
    passes: Annotated[int, Field(ge=1, le=MAX_PASSES)] = 1
    threads: Threads = "auto"
    min_time_s: Annotated[float, Field(ge=0)] = 0.5
    timeout_s: PositiveFloat = 600
    budget: Budget = Field(default_factory=Budget)
    expectations: Expectations = Field(default_factory=dict)
    baseline: str | None = None
    _source_text: str | None = PrivateAttr(default=None)
    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        """The file the suite was loaded from, if any."""
        return self._source

    def to_yaml(self) -> str:
        """The suite file as written when it was loaded from one, else an equivalent dump."""
        if self._source_text is not None:
            return self._source_text
        data = self.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False)

    def with_overrides(self, **fields) -> "Suite":
        """A copy with ``fields`` replaced (``pacabench run --device / --dtype``). Its YAML is dumped
        from the data, so the run's suite.yaml, and a resume from it, keep the overrides."""
        copy = self.model_copy(update=fields)
        copy._source_text = None
        return copy

    def sizes_for(self, entry: TargetEntry) -> list[tuple[int, int]]:
        """The (height, width) sizes one target is measured at."""
        return _flatten(entry.resolutions if entry.resolutions is not None else self.resolutions)

    def labels(self) -> list[str]:
        return [t.display_label for t in self.targets]


def default_label(kind: str, name: str) -> str:
    return PREFIXES.get(kind, "") + name


def row_label(row) -> str:
    """Label of a results row (dict or pandas row): its ``label`` column, else name / ``op:<name>``."""
    label = row.get("label")
    if isinstance(label, str) and label:
        return label
    return default_label(row["kind"], row["name"])


def _parse(kind: str, name: str, params: dict | None = None) -> tuple[str, str, dict]:
    """(kind, name, params) as ``pacabench.targets`` parses them: it owns target names, parameters
    and their errors. YAML parameters go to its checks as the values they are, never rendered into
    a query string (the name may still carry one: ``deit_small_patch16_224?fused_attn=false``)."""
    from pacabench.operators import OPERATORS
    from pacabench.targets import TargetError, check_params, parse_target
    from pacabench.user_targets import coerce

    parsed_kind, parsed_name, inline = parse_target(PREFIXES.get(kind, "") + name)
    if not params:
        return parsed_kind, parsed_name, inline
    check = {"operator": lambda p: OPERATORS[parsed_name].check_params(p),
             "python": coerce}.get(parsed_kind, partial(check_params, parsed_name))
    try:
        return parsed_kind, parsed_name, check({**inline, **params})
    except ValueError as exc:
        raise TargetError(str(exc)) from None


def _check_target(kind: str, name: str) -> None:
    from pacabench.targets import TargetError

    try:
        parsed_kind, _, _ = _parse(kind, name)
    except TargetError as exc:
        raise ValueError(str(exc)) from None
    if parsed_kind != kind:
        raise ValueError(f"{name!r} is a target of kind {parsed_kind}; write it as "
                         f"`{parsed_kind}: {name.removeprefix(PREFIXES[parsed_kind])}`")


# ---------------------------------------------------------------- loading and error messages

def find_suite(spec: str | Path) -> Suite:
    """A suite file, or the name of a suite shipped with pacabench (``ci_smoke``); SuiteError (one
    line) when it is neither."""
    from importlib.resources import files

    if Path(spec).exists():
        return load_suite(spec)
    shipped = {p.name.removesuffix(".yaml"): p for p in files("pacabench.suites").iterdir() if p.name.endswith(".yaml")}
    name = Path(spec).name.removesuffix(".yaml")
    if name in shipped:
        return parse_suite(shipped[name].read_text(), source=str(shipped[name]))
    raise SuiteError([f"SUITE: no file {str(spec)!r} and no shipped suite of that name; shipped suites: "
                      f"{', '.join(sorted(shipped))}"])


def override_problem(field: str, value: str) -> str | None:
    """Why ``value`` cannot replace a suite's ``devices`` or ``dtypes`` (``pacabench run --device``,
    ``api.run_suite(device=...)``), as ``field: problem; fix``; None when it can."""
    choices = get_args(Device if field == "device" else Dtype)
    if value not in choices:
        return f"{field}: {value!r} is not a {field}; use {', '.join(choices[:-1])} or {choices[-1]}"
    return None

def threads_value(text: str) -> str | int:
    """``--threads TEXT`` as the suite's ``threads`` takes it; ValueError (the problem, one line) if none."""
    return _threads(int(text) if text.strip().isdigit() else text)


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file; raise SuiteError listing every problem, one per line."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SUITE_BYTES + 1)
    except OSError as exc:
        raise SuiteError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    return parse_suite(_decoded(path, data if len(data) <= MAX_SUITE_BYTES else None), source=str(path))


class RunSuite(BaseModel):
    """What the analysis of a results folder reads from its ``suite.yaml``, typed; other keys are
    not looked at (the folder's suite is data: its targets are never imported or built)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    expectations: Expectations = Field(default_factory=dict)
    warmup: Annotated[int, Field(ge=0)] | None = None
    repeats: PositiveInt | None = None
    min_time_s: Annotated[float, Field(ge=0)] | None = None


def read_run_suite(path: Path) -> dict:
    """The :class:`RunSuite` fields of a results folder's suite.yaml, read with a suite file's bounds
    and without following a link; SuiteError (one line) when unusable."""
    from pacabench.runner.atomic import read_limited

    try:
        data = read_limited(path, MAX_SUITE_BYTES)
    except OSError as exc:
        raise SuiteError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        return RunSuite.model_validate(_mapping(_decoded(path, data), str(path))).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise SuiteError([f"{path}: {_format_error(err)}" for err in exc.errors()]) from None


def _decoded(path: Path, data: bytes | None) -> str:
    """A suite file's text; ``data`` None when the file is larger than a suite may be."""
    if data is None:
        raise SuiteError([f"{path}: larger than {MAX_SUITE_BYTES // 1024} KiB, the most a suite file may be "
                          f"(suites are a few KB); is this the right file?"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError([f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                          f"save the suite as UTF-8"]) from None


def _mapping(text: str, source: str) -> dict:
    """The YAML mapping of a suite file, read within the bounds of :class:`_BoundedLoader`."""
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader, bounded
    except yaml.YAMLError as exc:
        raise SuiteError([f"{source}: {_yaml_problem(exc)}"]) from None
    if not isinstance(data, dict):
        raise SuiteError([f"{source}: expected a mapping with at least `name:` and `targets:`, "
                          f"got {type(data).__name__}"])
    return data


def parse_suite(text: str, source: str = "<suite>") -> Suite:
    data = _mapping(text, source)
    try:
        suite = Suite.model_validate(data, context={"sizes_left": [MAX_ALL_SIZES]})
    except ValidationError as exc:
        raise SuiteError([f"{source}: {_format_error(err)}" for err in exc.errors()]) from None
    problems = _semantic_problems(suite)
    if problems:
        raise SuiteError([f"{source}: {p}" for p in problems])
    suite._source_text, suite._source = text, source
    return suite


class _Refused(yaml.MarkedYAMLError):
    """Well-formed YAML that the suite reader refuses; ``problem`` says why and what to do."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the bounds that keep reading a suite as cheap as its size: nesting
    of at most MAX_DEPTH levels (the composer recurses, and aliases nest what they refer to), at most
    MAX_VALUES values with each alias counted at every use (a few hundred bytes of nested aliases
    otherwise stand for billions of values), and no repeated key in a mapping (PyYAML would keep the
    last silently: a second `targets:` would replace the first)."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _too_deep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _measure_node(node, {}, set(), 1)
        return node

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first: dict = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in first:
                    raise _Refused(problem=f"key {reprlib.repr(key_node.value)} repeats the one at line "
                                           f"{first[key].line + 1}; keep one of them",
                                   problem_mark=key_node.start_mark)
                first[key] = key_node.start_mark
        return node


def _too_deep(mark) -> _Refused:
    return _Refused(problem=f"nested more than {MAX_DEPTH} levels deep (YAML aliases included); "
                            f"a suite needs a few levels", problem_mark=mark)


def _measure_node(node, sizes: dict, path: set, depth: int) -> int:
    """Values under ``node`` with aliases counted at each use, without expanding them (a node met
    again is looked up in ``sizes``); refuses more than MAX_VALUES, nesting beyond MAX_DEPTH, and an
    alias inside what it refers to."""
    if depth > MAX_DEPTH:
        raise _too_deep(node.start_mark)
    if id(node) in sizes:
        size, height = sizes[id(node)]
        if depth + height - 1 > MAX_DEPTH:
            raise _too_deep(node.start_mark)
        return size
    if id(node) in path:
        raise _Refused(problem="a YAML alias refers to a node that contains it; remove the alias",
                       problem_mark=node.start_mark)
    path.add(id(node))
    children = [] if isinstance(node, yaml.ScalarNode) else (
        node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair])
    size = 1 + sum(_measure_node(child, sizes, path, depth + 1) for child in children)
    path.discard(id(node))
    if size > MAX_VALUES:
        raise _Refused(problem=f"more than {MAX_VALUES} values once YAML aliases are expanded; a suite "
                               f"needs far fewer: write the values out, or use fewer aliases",
                       problem_mark=node.start_mark)
    heights = [sizes[id(child)][1] for child in children if id(child) in sizes]
    sizes[id(node)] = (size, 1 + max(heights, default=0))
    return size


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, _Refused):
        return f"{where}{problem}"
    return f"{where}malformed YAML: {problem}; fix the syntax there (indentation, ':' and quotes)"


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "list[", "tuple[", "constrained-", "literal[", "dict[")):
            continue  # pydantic's internal validator names
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _schema_at(loc: tuple) -> type[BaseModel]:
    """The schema whose keys apply at ``loc`` (for 'unknown key' hints)."""
    keys = [part for part in loc if isinstance(part, str) and not part.startswith(("function-", "list[", "tuple["))]
    if keys and keys[-1] == "budget":
        return Budget
    return TargetEntry if keys and keys[0] == "targets" else Suite


def _format_error(err: dict) -> str:
    loc, kind, msg = err["loc"], err["type"], err["msg"]
    path = _field_path(loc)
    if kind == "extra_forbidden":
        allowed = ", ".join(_schema_at(loc[:-1]).model_fields)
        return f"{path}: unknown key; allowed keys here: {allowed}"
    if kind == "missing":
        return f"{path}: required field missing"
    if kind == "too_long":
        return (f"{path}: more than the {err['ctx']['max_length']} entries one suite may hold here; "
                f"split the sweep into several suites")
    if kind == "value_error":
        return f"{path}: {msg.removeprefix('Value error, ')}"
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) else f" (got {reprlib.repr(got)})"
    return f"{path}: {msg}{shown}"


def _semantic_problems(suite: Suite) -> list[str]:
    """Cross-field checks: the number of cells, unique labels, expectations naming labels,
    parameters that go together, sizes each target can take (the targets part's own rules), and a
    model asked for explicit attention having the switch for it."""
    cells = (sum(len(suite.sizes_for(entry)) for entry in suite.targets) * len(suite.batch_sizes)
             * len(suite.dtypes) * len(suite.modes) * len(suite.devices))
    if cells > MAX_CELLS:
        return [f"targets: {cells} cells (targets x sizes x batch sizes x dtypes x modes x devices), more "
                f"than the {MAX_CELLS} one suite may hold; split the sweep into several suites"]
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(suite.targets):
        label = entry.display_label
        if label in seen:
            problems.append(f"targets[{i}].label: label {label!r} already used by targets[{seen[label]}]; "
                            f"give one of them a distinct `label:`")
        seen.setdefault(label, i)
        kind, name, params = entry.spec
        problem = _params_problem(kind, name, params)
        if problem:
            problems.append(f"targets[{i}].params: {problem}")
            continue
        where = f"targets[{i}].resolutions" if entry.resolutions is not None else "resolutions"
        items = entry.resolutions if entry.resolutions is not None else suite.resolutions
        fits = True
        for j, item in enumerate(items):
            problem = next(filter(None, (_size_problem(kind, name, params, h, w) for h, w in item)), None)
            if problem:
                problems.append(f"{where}[{j}]: does not fit targets[{i}]: {problem}")
                fits = False
        problem = _switch_problem(kind, name, params, suite.sizes_for(entry)[0]) if fits else None
        if problem:
            problems.append(f"targets[{i}].params: {problem}")
    for label in suite.expectations:
        if label not in seen:
            problems.append(f"expectations.{label}: no target has this label; labels: {', '.join(seen)}")
    return problems


def _params_problem(kind: str, name: str, params: dict) -> str | None:
    """Parameters that parse one by one but do not go together (e.g. heads not dividing dim)."""
    from pacabench.operators import OPERATORS

    try:
        if kind == "operator":
            OPERATORS[name].resolve(params)
    except ValueError as exc:
        return str(exc)
    return None


def _switch_problem(kind: str, name: str, params: dict, size: tuple[int, int]) -> str | None:
    """A model asked for ``fused_attn: false`` that has no attention switch: only building it tells,
    so it is built on the meta device (shapes only, nothing allocated), refused as a run would be."""
    from pacabench.targets import TargetError, build_target

    if kind != "model" or params.get("fused_attn") is not False:
        return None
    try:
        build_target(kind, name, params, *size, 1, device="meta")
    except TargetError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - any other build failure is the run's to report, as an error row
        return None
    return None


def _size_problem(kind: str, name: str, params: dict, height: int, width: int) -> str | None:
    """The targets part's own size rule for this target, as a message, or None when it fits (user
    code has no rule pacabench knows: a size it cannot take fails when the cell is built)."""
    from pacabench.backbones import check_size
    from pacabench.operators import OPERATORS

    try:
        if kind == "model":
            check_size(name, height, width)
        elif kind == "operator":
            OPERATORS[name].grid(height, width, **params)
    except ValueError as exc:
        return str(exc)
    return None
