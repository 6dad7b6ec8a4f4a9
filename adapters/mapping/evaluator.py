"""Field specs compiled once (`Node`) and evaluated per message: a source, then a transform.

Compiling at adapter construction keeps per-message work to following parsed paths and
applying prepared transforms; the evaluation order (source, default, one transform) is the
contract the configuration reference describes, so it is written in exactly one place.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from adapters.base import RawMessage
from adapters.mapping.paths import JsonPath, parse_path
from adapters.mapping.spec import FieldSpec, Scalar
from adapters.mapping.templates import TemplatePart, parse_template, render_template
from adapters.mapping.timeformats import TimeParser, parse_zone, time_parser
from adapters.mapping.transforms import MaskKind, mask, pseudonymize, scale
from adapters.mapping.values import Miss, as_key, as_text, payload_value
from schemas.privacy import Pseudonymizer


@dataclass(frozen=True, slots=True)
class Node:
    """A compiled field spec."""

    label: str
    path: JsonPath | None = None
    const: Scalar | None = None
    template: tuple[TemplatePart, ...] | None = None
    capture: str | None = None
    alternatives: tuple["Node", ...] = ()
    mapping: Mapping[str, Scalar] | None = None
    unmapped: Scalar | None = None
    default: Scalar | None = None
    scale: Decimal | None = None
    time: TimeParser | None = None
    hash: str | None = None
    mask: MaskKind | None = None


def compile_field(spec: FieldSpec) -> Node:
    alternatives = tuple(compile_field(alternative) for alternative in spec.first or ())
    if spec.path is not None:
        label = spec.path
    elif spec.template is not None:
        label = spec.template
    elif spec.capture is not None:
        label = f"topic {{{spec.capture}}}"
    elif alternatives:
        label = " or ".join(alternative.label for alternative in alternatives)
    else:
        label = "const"
    zone = None if spec.timezone is None else parse_zone(spec.timezone)
    return Node(
        label=label,
        path=None if spec.path is None else parse_path(spec.path),
        const=spec.const,
        template=None if spec.template is None else parse_template(spec.template),
        capture=spec.capture,
        alternatives=alternatives,
        mapping=None if spec.map is None else MappingProxyType(dict(spec.map)),
        unmapped=spec.unmapped,
        default=spec.default,
        scale=None if spec.scale is None else Decimal(str(spec.scale)),
        time=None if spec.format is None else time_parser(spec.format, zone),
        hash=spec.hash,
        mask=spec.mask,
    )


@dataclass(frozen=True, slots=True)
class Context:
    document: dict[str, object]
    message: RawMessage
    captures: Mapping[str, str]
    field: str


class Evaluator:
    """Evaluates compiled field specs against one payload."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    def value(self, node: Node, context: Context) -> object:
        """The node's value, or a `Miss`."""
        value = self._source(node, context)
        if isinstance(value, Miss):
            return value if node.default is None else node.default
        field, label = context.field, node.label
        if node.mapping is not None:
            mapped = node.mapping.get(as_key(value, field, label))
            if mapped is None:
                return Miss(label, unmapped=True) if node.unmapped is None else node.unmapped
            return mapped
        if node.scale is not None:
            return scale(value, node.scale, field, label)
        if node.time is not None:
            return node.time(value, label)
        if node.hash is not None:
            return pseudonymize(self._pseudonymizer, node.hash, value, field, label)
        if node.mask is not None:
            masked = mask(node.mask, as_text(value, field, label), field, label)
            return Miss(label) if masked is None else masked
        return value

    def _source(self, node: Node, context: Context) -> object:
        if node.path is not None:
            return payload_value(context.document, node.path, context.field, node.label)
        if node.const is not None:
            return node.const
        if node.template is not None:
            return render_template(node.template, context.document, context.field)
        if node.capture is not None:
            captured = _capture(node.capture, context)
            return captured if captured else Miss(node.label)
        first_miss: Miss | None = None
        for alternative in node.alternatives:
            value = self.value(alternative, context)
            if not isinstance(value, Miss):
                return value
            if first_miss is None or (value.unmapped and not first_miss.unmapped):
                first_miss = value
        return Miss(node.label, unmapped=first_miss is not None and first_miss.unmapped)


def _capture(name: str, context: Context) -> str | None:
    if name == "device_id":
        return context.message.device_id
    if name == "community":
        return context.message.community
    return context.captures.get(name)
