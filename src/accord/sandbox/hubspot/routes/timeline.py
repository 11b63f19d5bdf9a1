"""Timeline events v3: an app's event templates and events (``sandbox/hubspot/timeline.py``),
at ``/crm/v3/timeline/…`` and, as the official client calls them, ``/integrators/timeline/v3/…``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from accord.sandbox.hubspot import timeline
from accord.sandbox.hubspot.core import HubSpotCore
from accord.sandbox.hubspot.routes.common import batch_inputs, batch_response, read_json
from accord.sandbox.hubspot.store import ApiError, iso_ms

PREFIXES = ("/crm/v3/timeline", "/integrators/timeline/v3")


def register(app: FastAPI, sb: HubSpotCore) -> None:
    store = sb.store

    async def create_template(app_id: str, request: Request) -> JSONResponse:
        return JSONResponse(timeline.create_template(store, app_id, await read_json(request)), status_code=201)

    async def list_templates(app_id: str) -> JSONResponse:
        return JSONResponse({"results": timeline.templates(store, app_id)})

    async def get_template(app_id: str, template_id: str) -> JSONResponse:
        return JSONResponse(timeline.public(timeline.template(store, app_id, template_id)))

    async def create_event(request: Request) -> JSONResponse:
        return JSONResponse(timeline.create_event(store, await read_json(request)), status_code=201)

    async def create_events(request: Request) -> JSONResponse:
        started = iso_ms(int(time.time() * 1000))
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in batch_inputs(await read_json(request)):
            try:
                results.append(timeline.create_event(store, item))
            except ApiError as e:
                errors.append(e.batch_error({"eventTemplateId": [str(item.get("eventTemplateId"))]}))
        return batch_response(results, errors, started, 201)

    async def get_event(template_id: str, event_id: str) -> JSONResponse:
        return JSONResponse(timeline.get_event(store, template_id, event_id))

    for prefix in PREFIXES:
        # the events routes first: /events/batch/create is not a template's app id
        app.post(prefix + "/events")(create_event)
        app.post(prefix + "/events/batch/create")(create_events)
        app.get(prefix + "/events/{template_id}/{event_id}")(get_event)
        app.post(prefix + "/{app_id}/event-templates")(create_template)
        app.get(prefix + "/{app_id}/event-templates")(list_templates)
        app.get(prefix + "/{app_id}/event-templates/{template_id}")(get_template)
