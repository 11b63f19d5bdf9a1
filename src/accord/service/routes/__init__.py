"""The service's routers; app.py includes them, each builds on accord.service.web."""
