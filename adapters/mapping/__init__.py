"""Mapping dialects: an operator describes a vendor's JSON in the TOML config, without code.

A `[[dialects]]` entry in the configuration file becomes an adapter like any coded one: it
has a name (usable in the default topic layout and in `[[topics]]` bindings), may claim its own
topic template, and turns one JSON object into one canonical event of `schemas.events`. The
description is data, read by a fixed interpreter: no `eval`, no code, no regular expressions
from the config, and the work per message is bounded (paths of at most 16 steps, at most 8
alternatives nested at most 4 deep, at most 32 event rules).

    [[dialects]]
    name = "acme-door"                        # the dialect name: a-z 0-9 . _ -, 64 at most
    topic = "acme/{community}/{device_id}/event"
    kind = "access"                           # the canonical event kind it produces

    [dialects.id]                             # optional: what identifies the event
    paths = ["data.recordId", "$occurred_at"]

    [dialects.fields]
    occurred_at = { path = "data.time", format = "epoch_ms" }
    method = { path = "data.openType", map = { "1" = "card", "2" = "face" }, default = "unknown" }
    result = { path = "data.success", map = { "true" = "granted", "false" = "denied" } }
    direction = { const = "unknown" }
    credential = { path = "data.cardNo", hash = "card" }
    door = { path = "data.doorNo" }
    vendor_code = { template = "acme/{data.openType}" }

Dialect keys:

- `name` (required): a-z 0-9 . _ -; not a built-in dialect's name, not repeated.
- `topic`: a topic template of `/`-separated levels, each literal text, `+`, `{capture}` or a
  final `#`. `{community}` and `{device_id}` give the event's community and device; other
  captures can be read by fields. The gateway subscribes to it with `+` for every capture.
  Without `topic`, the dialect is still reachable as `{community}/{name}/{device_id}` (the
  default layout) and through `[[topics]]` bindings.
- `community`: the community, when `topic` has no `{community}` capture.
- `when`: conditions every payload must meet, else it is refused (`unsupported_event`):
  `{ "path" = value }` or `{ "path" = [value, ...] }`. Quote dotted paths.
- `kind` and `[dialects.fields]`: the one event kind made, and how its fields are filled.
- `[[dialects.events]]`, instead of `kind`: rules, each with `kind`, `when` and `fields`; the
  first rule whose `when` holds makes the event, none holding is `unknown_code`. The dialect's
  own `fields` are shared by every rule; a rule's field of the same name wins.
- `[dialects.id] paths`: up to 8 payload paths or `$field` references (a canonical field
  already filled, e.g. `$occurred_at`) whose values identify the event: the id is
  `stable_event_id(name, device_id, *values)`. Without `id`, or when a value is absent, it is
  the hash of topic and payload, which a redelivery reproduces as well.

A field takes exactly one source, then at most one transform:

- `path`: a payload value, `data.items[0].plate` (`[-1]` is the last element).
- `const`: a constant, a canonical value.
- `template`: text with `{path}` placeholders; `{path:hex}` writes an integer as `0x1f`.
- `capture`: a topic capture; `device_id` and `community` are the routed ones.
- `first`: a list of field specs; the first that gives a value wins.
- `map`: payload value -> canonical value. Keys are text: numbers as written (`"1"`),
  booleans as `"true"` / `"false"`. `unmapped` is the value for a present value the map does
  not list; without it such a value is `unknown_code` (refused, not guessed).
- `default`: the value when the source is absent: missing, `null` or `""`.
- `required = true`: refuse a payload without it (`schema`), though the canonical field is
  optional. Canonical required fields (`method`...) are always required.
- `format`, date-time fields only: `epoch_ms`, `epoch_s`, `iso8601` or a strptime pattern
  (`%Y-%m-%d %H:%M:%S`); `timezone` (`+08:00`, `UTC`, `Asia/Shanghai`) reads times written
  without an offset, and a pattern without `%z` requires it: device time is never guessed.
- `scale`: multiply a number (`0.01` turns a percentage into 0-1).
- `hash`: the keyed hash (`schemas.privacy.Pseudonymizer`) in this namespace (`card`...).
- `mask`: `id_number`, `phone` or `name`, the display masks of `schemas.privacy`.

Rules the interpreter applies, so a mapping cannot weaken the canonical contract:

- Personal data enters an event only hashed or masked. `credential` and every `*_ref` field
  need `hash` (on the field or on every alternative); `id_masked` and `matched_id_masked` need
  `mask = "id_number"`, `phone_masked` `mask = "phone"`, `name_masked` `mask = "name"`. Those
  fields take no `const`, `default`, `map` or `unmapped`. Hashes in the `id_number` namespace
  are of the upper-cased, trimmed number, as every dialect hashes ID numbers.
- Each event is validated by the canonical model of its kind, so a wrong value is a
  `schema` dead letter, never a crash; constants and map values are checked against the
  canonical field's type at start-up already.
- `plate_no` is normalised like every dialect's (`adapters.plates.normalise_plate`); when the
  mapping does not fill `has_plate`, it is whether a plate was read. Names, picture URLs and
  plates are screened by the event itself (`schemas.screening`): what breaks the rules is
  dropped and listed in `dropped_fields`; `plate_standard` and `dropped_fields` are the
  gateway's, never mapped. A constant name that breaks the rules is refused at start-up.
- The device id (routed or mapped), `vendor_code` and `visit_id` refuse the payload when they
  hold an ID or mobile number (`pii_in_identifier`); device ids follow `schemas.identifiers`.
- `image_url` is judged by the event's screen like every dialect's (`schemas.image_urls`):
  an unusable one is dropped and listed, never the event.
- Numbers going into text fields (`door`, `lane`...) are written in decimal.
- The event's device is the routed one (topic) unless `fields.device_id` says otherwise.
- Config errors name the key and its line in the file (see `gateway.config.load_config`).

Mapping dialects are deliberately more lenient than coded ones about *types* (a code sent as
`1` or `"1"` maps alike); they are just as strict about *meaning* (unmapped codes are refused).

The package, one job a module: `spec` (the configuration model and its start-up checks),
`targets` (the canonical fields a mapping may fill), `paths`, `values`, `templates`,
`timeformats`, `transforms` and `topics` (the pieces of the description language),
`conditions` (`when`), `evaluator` (compiled field specs), `adapter` (the interpreter) and
`dead_letters` (which payload paths the dialect's dead letters may show, derived from the
description: mapped code, time and identifier fields, never a hashed or masked path).
"""

from adapters.mapping.adapter import MappingAdapter, mapping_adapter
from adapters.mapping.paths import parse_path
from adapters.mapping.spec import MappingSpec, SpecError, topic_templates
from adapters.mapping.templates import parse_template
from adapters.mapping.topics import parse_topic_template

__all__ = [
    "MappingAdapter",
    "MappingSpec",
    "SpecError",
    "mapping_adapter",
    "parse_path",
    "parse_template",
    "parse_topic_template",
    "topic_templates",
]
