"""The pages of the dashboard's setup flow (the steps themselves: :mod:`accord.service.setup_flow`)."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from accord.config import ConfigError
from accord.engine.stages import auto_map_stages
from accord.service import manage
from accord.service.core import Service
from accord.service.setup_flow import (
    OPS,
    RULES,
    STEPS,
    Draft,
    apply_step,
    draft_issues,
    load_schemas,
    mapping_index,
    mapping_rows,
    say,
    stage_rows,
)
from accord.service.web import Svc, login_redirect, render_page


def setup_router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/setup", response_model=None)
    async def start(request: Request, svc: Svc) -> Response:
        if (redirect := login_redirect(request)) is not None:
            return redirect
        d = Draft()
        apps = list(svc.cfg.apps)
        if len(apps) >= 2:
            d.left_app, d.right_app = apps[0], apps[1]
        return await _render(request, svc, d, "objects")

    @r.get("/syncs/{name}/edit", response_model=None)
    async def edit(request: Request, name: str, svc: Svc) -> Response:
        if (redirect := login_redirect(request)) is not None:
            return redirect
        src = svc.registry.source_of_sync(name)
        if src is None:
            return HTMLResponse(f"No sync named {name!r}.", status_code=404)
        d = Draft.from_sync(svc.cfg.sync(name))
        if src == "file":
            return await _render(request, svc, d, "objects", f"This sync is defined in {svc.registry.file_cfg.source}; "
                                 "edit the file and restart the service to change it.", 409)
        return await _render(request, svc, d, "objects")

    @r.post("/setup/{step}", response_model=None)
    async def submit(request: Request, step: str, svc: Svc, draft: Annotated[str, Form()],
                     action: Annotated[str, Form()] = "next") -> Response:
        if (redirect := login_redirect(request)) is not None:
            return redirect
        if step not in STEPS:
            return HTMLResponse("Unknown step.", status_code=404)
        try:
            d = Draft.model_validate_json(draft)
        except ValidationError:
            return HTMLResponse("The form was damaged; start again.", status_code=400)
        form = await request.form()
        return await _submit(request, svc, d, step, {k: str(v) for k, v in form.items()}, action)

    return r


async def _render(request: Request, svc: Service, d: Draft, step: str, error: str | None = None,
                  status: int = 200) -> HTMLResponse:
    """The page of one step, with what that step shows of the two apps' schemas."""
    ctx: dict[str, Any] = {"d": d, "draft": d.model_dump_json(), "step": step, "steps": STEPS, "error": error,
                           "apps": {n: {"vendor": a.type, "objects": manage.known_objects(a.type)}
                                    for n, a in svc.cfg.apps.items()},
                           "rules": RULES, "ops": OPS}
    if step in ("mappings", "filters", "review"):
        try:
            sch = await load_schemas(svc, d)
        except Exception as e:  # the app is unreachable, or the object does not exist
            return await _render(request, svc, d, "objects", f"Cannot read the objects' fields: {type(e).__name__}: {e}", 422)
        ctx["left_fields"] = manage.fields_json(sch.left)
        ctx["right_fields"] = manage.fields_json(sch.right)
        ctx["rows"] = mapping_rows(svc, d)
        ctx["stage_rows"], ctx["right_stages"] = stage_rows(sch, d)
    if step == "review":
        issues = await draft_issues(svc, d)
        ctx["issues"] = issues
        ctx["yaml"] = yaml.safe_dump({"syncs": [d.config()]}, sort_keys=False, allow_unicode=True)
    resp = render_page(request, "setup.html", **ctx)
    resp.status_code = status
    return resp


async def _submit(request: Request, svc: Service, d: Draft, step: str, f: dict[str, str], action: str) -> Response:
    """One step's form: back, an edit within the step (shown again), or on to the next step."""
    here = STEPS.index(step)
    if action == "back":
        return await _render(request, svc, d, STEPS[max(0, here - 1)])
    auto = None
    if step == "mappings" and "stage_mode" in f:
        sch = await load_schemas(svc, d)
        auto = auto_map_stages(sch.left_pipelines, sch.right_pipelines)
    error = apply_step(d, step, f, action, auto)
    if error:
        return await _render(request, svc, d, step, error, 422)
    if action != "next":  # an edit within the step: show the step again
        if action == "add":
            issues = await draft_issues(svc, d)
            bad = [i for i in issues if mapping_index(i.path) == len(d.mappings) - 1]
            if bad:
                m = d.mappings.pop()
                return await _render(request, svc, d, step, f"Refused {m['left']} ↔ {m['right']}: {bad[0].message}", 422)
        return await _render(request, svc, d, step)
    if step == "objects":
        issues = [i for i in await draft_issues(svc, d) if i.path.split(".")[0] in ("name", "left", "right", "")]
        if issues:
            return await _render(request, svc, d, step, "; ".join(say(i) for i in issues), 422)
    if step == "review":
        try:
            await manage.save_sync(svc, d.config(), replacing=d.editing)
        except (ConfigError, manage.Conflict, KeyError) as e:
            msg = "; ".join(say(i) for i in e.issues) if isinstance(e, ConfigError) else str(e)
            return await _render(request, svc, d, step, msg, 422)
        return RedirectResponse(f"/syncs/{d.name}", status_code=303)
    return await _render(request, svc, d, STEPS[here + 1])
