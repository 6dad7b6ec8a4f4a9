"""Dependencies shared by the routers: the running gateway, its store, the caller's key."""

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from gateway.runtime import Runtime
from gateway.store import Store


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_store(runtime: RuntimeDep) -> Store:
    return runtime.store


StoreDep = Annotated[Store, Depends(get_store)]


def require_api_key(
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Admit callers holding the admin key, as `X-API-Key` or `Authorization: Bearer`.

    Bearer is accepted so Prometheus can scrape `/metrics` with its standard credentials.
    """
    presented = x_api_key
    if presented is None and authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    expected = runtime.secrets.admin_api_key
    if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid API key is required in the X-API-Key header",
            headers={"WWW-Authenticate": "Bearer"},
        )


ApiKey = Depends(require_api_key)
