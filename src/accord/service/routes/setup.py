"""The pages of the dashboard's setup flow (the draft and its forms: :mod:`accord.service.setup_flow`,
what each step shows of the apps: :mod:`accord.service.setup_views`).

Every control posts the whole step's form: a button with its ``action``, or (with htmx) a picker
whose choice changes what the step shows — another app's objects, the fields of the other side,
the options of the field picked — with ``action=refresh``, answered with the page, of which
htmx swaps in ``main``. Without script the same buttons work as plain form posts.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from accord import redact
from accord.config import ConfigError
from accord.engine.stages import auto_map_stages
from accord.service import manage
from accord.service.core import Service
from accord.service.setup_flow import (
    STEPS,
    Draft,
    apply_step,
    draft_issues,
    mapping_index,
    say,
    step_issues,
)
from accord.service.setup_views import load_schemas, save_values, step_context, vendors
from accord.service.web import Svc, render_page

log = logging.getLogger("accord.service")


def setup_router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/setup", response_model=None)
    async def start(request: Request, svc: Svc) -> Response:
        d = Draft()
        apps = list(svc.cfg.apps)
        if len(apps) >= 2:
            d.left_app, d.right_app = apps[0], apps[1]
        return await _render(request, svc, d, "objects")

    @r.get("/syncs/{name}/edit", response_model=None)
    async def edit(request: Request, name: str, svc: Svc) -> Response:
        src = svc.registry.source_of_sync(name)
        if src is None:
            return render_page(request, "message.html", 404, title="No such sync", message=f"No sync named {name!r}.")
        d = Draft.from_sync(svc.cfg.sync(name))
        if src == "file":
            return await _render(request, svc, d, "objects", f"This sync is part of the configuration Accord was started with "
                                 f"({svc.registry.file_cfg.source}): change it there and restart the service.", 409)
        return await _render(request, svc, d, "objects")

    @r.post("/setup/{step}", response_model=None)
    async def submit(request: Request, step: str, svc: Svc, draft: Annotated[str, Form()] = "",
                     action: Annotated[str, Form()] = "next") -> Response:
        if step not in STEPS:
            return render_page(request, "message.html", 404, title="Unknown step", message=f"No step {step!r}.")
        try:
            d = Draft.model_validate_json(draft)
        except ValidationError:
            return _damaged(request)
        form = await request.form()
        fields = {k: [str(v) for v in form.getlist(k)] for k in form}
        try:
            return await _submit(request, svc, d, step, fields, action)
        except Exception:  # a draft changed by hand can break a step in ways no form allows
            log.exception("setup step %s failed", step)
            return _damaged(request)

    return r


def _damaged(request: Request) -> HTMLResponse:
    return render_page(request, "message.html", 400, title="The form was damaged",
                       message="The form's data cannot be used; start again.", again="/setup")


async def _render(request: Request, svc: Service, d: Draft, step: str, error: str | None = None,
                  status: int = 200) -> HTMLResponse:
    """The page of one step, with what that step shows of the two apps."""
    try:
        ctx = await step_context(svc, d, step)
    except Exception as e:  # the app is unreachable, or the object does not exist
        if step == "objects":
            raise
        why = redact.scrub(f"{type(e).__name__}: {e}")
        return await _render(request, svc, d, "objects", f"Cannot read the objects' fields: {why}", 422)
    return render_page(request, "setup.html", status, d=d, draft=d.model_dump_json(), step=step, error=error, **ctx)


async def _submit(request: Request, svc: Service, d: Draft, step: str, f: dict[str, list[str]],
                  action: str) -> Response:
    """One step's form: back, an edit within the step (shown again), or on to the next step."""
    here = STEPS.index(step)
    if action == "back":
        return await _render(request, svc, d, STEPS[max(0, here - 1)])
    if action.startswith("values:") and step != "mappings":  # the review's "choose their values"
        d.values_for = action[len("values:"):]
        return await _render(request, svc, d, "mappings")
    auto = None
    if step == "mappings" and ("stage_mode" in f or action == "values_save"):
        sch = await load_schemas(svc, d)
        auto = auto_map_stages(sch.left_pipelines, sch.right_pipelines)
    error = apply_step(d, step, f, action, vendors(svc, d), auto)
    if step == "mappings" and action == "values_save" and not error:
        save_values(svc, d, await load_schemas(svc, d), f)
    if error:
        return await _render(request, svc, d, step, error, 422)
    if action != "next":  # an edit within the step: show the step again
        return await _edited(request, svc, d, step, action)
    issues = step_issues(step, await draft_issues(svc, d)) if step != "review" else []
    if issues:
        return await _render(request, svc, d, step, "; ".join(say(i) for i in issues), 422)
    if step == "review":
        try:
            await manage.save_sync(svc, d.config(), replacing=d.editing, base=d.base or None)
        except (ConfigError, manage.Conflict, KeyError) as e:
            msg = "; ".join(say(i) for i in e.issues) if isinstance(e, ConfigError) else str(e)
            return await _render(request, svc, d, step, msg, 422)
        return RedirectResponse(f"/syncs/{d.name}", status_code=303)
    return await _render(request, svc, d, STEPS[here + 1])


async def _edited(request: Request, svc: Service, d: Draft, step: str, action: str) -> HTMLResponse:
    """After an edit within a step: a mapping just added is refused (and taken out) when check finds
    it wrong, e.g. a type clash; other edits are shown at once and checked at Next."""
    if action in ("add", "confirm_add") and d.pending is None and d.mappings:
        bad = [i for i in await draft_issues(svc, d) if mapping_index(i.path) == len(d.mappings) - 1]
        if bad:
            m = d.mappings.pop()
            return await _render(request, svc, d, step, f"Refused {m['left']} ↔ {m['right']}: {bad[0].message}", 422)
    return await _render(request, svc, d, step)
