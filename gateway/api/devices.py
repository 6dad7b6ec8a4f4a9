"""The device registry for property systems and operators: list, read and register devices.

A PUT is stored first and then put into the running pipeline's registry, so the device's
next message is placed in its building without a restart; every PUT stored is audited
(`device.put`, the device id, `details.created` 1 for a new device).
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from gateway.access import Caller, Permission
from gateway.api.audit import entry
from gateway.api.deps import RuntimeDep, StoreDep, needs
from gateway.api.errors import ApiError
from gateway.devices import load_devices
from gateway.errors import StoreError
from gateway.store.base import Page, Store
from schemas.devices import (
    RELAYING_KINDS,
    CommunityCode,
    Device,
    DevicePublic,
    DeviceRegistration,
    DeviceState,
    ParentRule,
)
from schemas.identifiers import DeviceId

router = APIRouter(prefix="/v1/devices", tags=["property"])

MAX_PAGE = 1000
DEVICE_PUT_ACTION = "device.put"

PathDeviceId = Annotated[
    DeviceId, Path(description="0-9 A-Z a-z _ . : -, 1 to 64, no '..', no ID or mobile number")
]
"""A device id in the path: one no device could have is a 422 naming the path, not a 404."""


class DevicePut(DeviceRegistration):
    """A device's registration as PUT; `device_id` may be left out, the path names it.

    Status, last seen and address are the gateway's observations, not part of a
    registration: sending them is refused, like any other unknown field.
    """

    device_id: DeviceId | None = None  # type: ignore[assignment]
    """Optional: the path names the device; when given, it must be the same id."""


@router.get("", summary="List registered devices", response_model=Page[DevicePublic])
async def list_devices(
    store: StoreDep,
    caller: Annotated[Caller, needs(Permission.DEVICES_READ)],
    community: CommunityCode | None = None,
    status_: Annotated[DeviceState | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Page[Device]:
    """Registered devices in `device_id` order, optionally of one community or status."""
    scope = caller.scope(community)
    return await store.list_devices(
        limit, cursor, community=community, status=status_, communities=scope
    )


@router.get(
    "/{device_id}",
    summary="Read one device",
    response_model=DevicePublic,
    responses={404: {"description": "No device is registered under this id."}},
)
async def get_device(
    store: StoreDep,
    caller: Annotated[Caller, needs(Permission.DEVICES_READ)],
    device_id: PathDeviceId,
) -> Device:
    """One device: its registration, status and when it was last heard from."""
    device = await store.get_device(device_id, communities=caller.scope())
    if device is None or not caller.sees(device.community):
        raise _not_found()
    return device


def _not_found() -> ApiError:
    """The answer for a device not registered, or not the caller's to know of: the same (the
    store's read is scoped, so the same in time too)."""
    return ApiError(404, "not_found", "no device is registered under this id")


@router.put(
    "/{device_id}",
    summary="Register or replace a device",
    response_model=DevicePublic,
    responses={201: {"model": DevicePublic, "description": "The device was registered."}},
)
async def put_device(
    runtime: RuntimeDep,
    caller: Annotated[Caller, needs(Permission.DEVICES_WRITE)],
    response: Response,
    device_id: PathDeviceId,
    body: DevicePut,
) -> Device:
    """Register a device, or replace its registration (200); a new device answers 201.

    The dialect must be one this gateway has an adapter for and admit the device's kind
    (`schemas.devices.DEVICE_KINDS_BY_DIALECT`); a `parent` must be registered and follow
    `schemas.devices.ParentRule` (same community, a relaying kind, no parent of its own), and a
    device others name as their parent stays one they may have. What the gateway observed
    (status, last seen, address) is kept when a registration is replaced, and so is the
    firmware unless the body names one.
    """
    store = runtime.store
    if not caller.sees(body.community):
        raise _not_found()  # a device put into another community: nothing read for it
    registered = await store.get_device(device_id)  # unscoped: another community's id is taken
    if registered is not None and not caller.sees(registered.community):
        raise _not_found()  # another community's device
    if body.device_id is not None and body.device_id != device_id:
        raise _invalid("device_id", "must equal the device id in the path")
    communities = {community.code for community in runtime.config.communities}
    if communities and body.community not in communities:
        raise _invalid("community", "is not a community this gateway serves")
    problem = runtime.config.dialect_kinds().problem(body.dialect, body.kind)
    if problem is not None:
        raise _invalid(*problem)
    if body.parent == device_id:
        raise _invalid("parent", "a device is not its own parent")
    try:
        registration = DeviceRegistration.model_validate(
            {**body.model_dump(exclude={"device_id"}), "device_id": device_id}
        )
    except ValidationError as exc:  # only the path's id is new here, and Path checked it
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    problem = ParentRule(await _relatives(store, registration, caller)).problem(registration)
    if problem is not None:
        raise _invalid(*problem)
    existed = await store.get_device(device_id) is not None
    await store.upsert_devices([registration])
    runtime.devices.put(registration)
    created = {"created": 0 if existed else 1}
    audit = entry(caller, DEVICE_PUT_ACTION, registration.community, (device_id,), details=created)
    await store.write_audit(audit)
    stored = await store.get_device(device_id)
    if stored is None:
        raise StoreError(f"device {device_id} vanished after it was stored", transient=True)
    if not existed:
        response.status_code = status.HTTP_201_CREATED
    return stored


async def _relatives(
    store: Store, device: DeviceRegistration, caller: Caller
) -> list[DeviceRegistration]:
    """What `ParentRule` needs from the store to judge `device`: its parent, and the devices
    naming it as theirs. Only a relaying device can have any (the rule admits no other parent),
    so the registry is read whole only when one of those is registered again: that is rare.
    A parent outside the caller's scope is left out, so it is judged unregistered: the answer
    must not tell that another community has a device of that id."""
    relatives: list[DeviceRegistration] = []
    scope = caller.scope()
    parent = None
    if device.parent is not None:
        parent = await store.get_device(device.parent, communities=scope)
    if parent is not None and caller.sees(parent.community):
        relatives.append(parent.registration())
    registered = await store.get_device(device.device_id)
    if registered is not None and registered.kind in RELAYING_KINDS:
        relatives += [d for d in await load_devices(store) if d.parent == device.device_id]
    return relatives


def _invalid(field: str, message: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors, without the value refused."""
    return RequestValidationError([{"type": "value_error", "loc": ("body", field), "msg": message}])
