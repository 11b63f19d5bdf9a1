"""REST routes that change the configuration: apps and syncs (create, update, delete).

Apps and syncs defined in accord.yaml are listed too but read-only here (409): the file
stays their source of truth. Credentials never come back out: app settings are redacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Response

from accord import redact
from accord.config import ConfigError
from accord.service import manage
from accord.service.managed import redact_app
from accord.service.web import AUTH_ANSWERS, Svc, answers, known_sync, require_token, sync_json

APP_NAME = r"^[A-Za-z0-9_.-]+$"  # an app made through the API: a name fit for URLs, metrics and logs


@contextmanager
def refusals(what: str, name: str | None = None) -> Iterator[None]:
    """The HTTP answer to each way a change can be refused: 404 unknown, 409 conflict, 422 invalid."""
    try:
        yield
    except KeyError as e:
        raise HTTPException(404, f"no {what} named {name!r}") from e
    except manage.Stale as e:  # If-Match named other settings than the stored ones
        raise HTTPException(412, str(e)) from e
    except manage.Conflict as e:
        raise HTTPException(409, str(e)) from e
    except ConfigError as e:
        raise HTTPException(422, [{"path": i.path, "message": redact.scrub(i.message)} for i in e.issues]) from e


def manage_router() -> APIRouter:
    r = APIRouter(prefix="/api", dependencies=[Depends(require_token)], tags=["configuration"], responses=AUTH_ANSWERS)

    @r.get("/apps", summary="Connected apps (credentials redacted)")
    def list_apps(svc: Svc) -> list[dict[str, Any]]:
        return [{"name": n, "source": svc.registry.source_of_app(n), "objects": manage.known_objects(a.type),
                 "config": redact_app(a)} for n, a in svc.cfg.apps.items()]

    @r.put("/apps/{name}", summary="Add or replace an app; its credentials are stored encrypted", responses=answers(400, 409))
    async def put_app(name: Annotated[str, Path(min_length=1, max_length=200, pattern=APP_NAME)], svc: Svc,
                      body: Any = Body(...)) -> dict[str, Any]:
        with refusals("app", name):
            await manage.save_app(svc, name, body)
        return {"name": name, "source": "api", "config": redact_app(svc.cfg.apps[name])}

    @r.delete("/apps/{name}", status_code=204, summary="Remove an app made through the API (no sync may use it)", responses=answers(404, 409))
    async def delete_app(name: str, svc: Svc) -> Response:
        with refusals("app", name):
            await manage.delete_app(svc, name)
        return Response(status_code=204)

    @r.get("/apps/{name}/objects/{obj}/fields", summary="The fields of one object of an app", responses=answers(404, 502))
    async def fields(name: str, obj: str, svc: Svc) -> list[dict[str, Any]]:
        if name not in svc.cfg.apps:
            raise HTTPException(404, f"no app named {name!r}")
        try:
            return manage.fields_json(await manage.describe(svc, name, obj))
        except KeyError as e:  # the app has no such object
            raise HTTPException(404, f"app {name!r} has no object {obj!r}") from e
        except Exception as e:
            raise HTTPException(502, redact.scrub(f"cannot read {obj} of {name}: {type(e).__name__}: {e}")) from e

    @r.get("/syncs/{name}/config", summary="A sync's settings, as stored (ETag: give it as If-Match to PUT)",
           responses=answers(404))
    def get_config(name: str, svc: Svc, response: Response) -> dict[str, Any]:
        s = svc.cfg.sync(known_sync(svc, name))
        response.headers["ETag"] = f'"{manage.fingerprint(s)}"'
        return s.model_dump(mode="json", exclude_none=True)

    @r.post("/syncs", status_code=201, summary="Create a sync; its initial sync starts right away", responses=answers(400, 409))
    async def create_sync(svc: Svc, body: Any = Body(...)) -> dict[str, Any]:
        with refusals("sync"):
            s = await manage.save_sync(svc, body)
        return sync_json(svc, s.name)

    @r.put("/syncs/{name}", summary="Replace a sync's settings; saving restarts its initial sync (If-Match: the "
           "ETag of GET …/config, else 412 when they changed since)", responses=answers(400, 404, 409, 412))
    async def update_sync(name: str, svc: Svc, body: Any = Body(...),
                          if_match: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        with refusals("sync", name):
            await manage.save_sync(svc, body, replacing=name, base=if_match.strip().strip('"') if if_match else None)
        return sync_json(svc, name)

    @r.post("/syncs/{name}/rename", summary="Rename a sync with its index: it goes on from its pairs",
            responses=answers(400, 404, 409))
    async def rename_sync(name: str, svc: Svc, body: Any = Body(...)) -> dict[str, Any]:
        new = body.get("name") if isinstance(body, dict) else None
        if not isinstance(new, str):
            raise HTTPException(422, [{"path": "name", "message": "give the new name: {\"name\": \"NEW\"}"}])
        with refusals("sync", name):
            await manage.rename_sync(svc, name, new)
        return sync_json(svc, new)

    @r.delete("/syncs/{name}", status_code=204, summary="Delete a sync and its index (records stay in both apps)", responses=answers(404, 409))
    async def delete_sync(name: str, svc: Svc) -> Response:
        with refusals("sync", name):
            await manage.delete_sync(svc, name)
        return Response(status_code=204)

    return r
