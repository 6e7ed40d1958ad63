"""Entry point: settings, database start/stop, routes and pages, static files, ui.run."""

from pathlib import Path

from nicegui import app, ui

from portal import events, gateway_events, health, pages, security
from portal.accounts import passwords
from portal.config import get_settings
from portal.db.lifecycle import install_lifespan
from portal.jobs import JobRunner
from portal.pages import session, webhooks
from portal.payments.gateways import selector

ROOT = Path(__file__).parent

settings = get_settings()
settings.check_production_safety()

security.install(
    app,
    public_url=settings.public_url,
    max_body_bytes=settings.max_body_bytes,
    upload_max_body_bytes=settings.upload_max_body_bytes,
)
install_lifespan(app, database_url=settings.database_url, auto_migrate=settings.auto_migrate)
app.add_static_files("/static", ROOT / "static")
session.register_routes()
health.register()
webhooks.register_routes(app)
selector.on_sandbox_event(gateway_events.ingest)  # the sandbox's events go where Stripe's webhooks go
pages.register_all()

jobs = JobRunner()
app.on_startup(passwords.warm_up)
if settings.nicegui_redis_url:  # several processes: relay live-update events between them
    app.on_startup(lambda: events.start_bridge(settings.nicegui_redis_url))
    app.on_shutdown(events.stop_bridge)
if settings.jobs_enabled:
    app.on_startup(jobs.start)
    app.on_shutdown(jobs.stop)

if __name__ in {"__main__", "__mp_main__"}:
    ui.run(
        host=settings.host,
        port=settings.port,
        title="Billing Portal",
        favicon=ROOT / "static" / "favicon.png",
        storage_secret=settings.storage_secret,
        session_middleware_kwargs={
            "same_site": "lax",
            "https_only": settings.public_url.startswith("https://"),
        },
        reload=False,
        show=False,
        language="en-GB",
    )
