"""`facelens serve`: the REST API and web page (FastAPI on uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from facelens.cli.attributes import ModelOption, attribute_models
from facelens.cli.gallery import DEFAULT_GALLERY
from facelens.cli.output import DetectorOption, EmbedderOption, one_of, reporting_errors

LOG_LEVELS = ("debug", "info", "warning", "error")


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(7860, min=1, max=65535, help="TCP port."),
    gallery: Path = typer.Option(
        DEFAULT_GALLERY,
        help="Gallery folder (created if missing); the same default as `facelens gallery`: "
        "$FACELENS_GALLERY or ~/.facelens/gallery.",
    ),
    no_gallery: bool = typer.Option(
        False, "--no-gallery", help="Serve without a gallery.", metavar=""
    ),
    api_key: str | None = typer.Option(
        None, envvar="FACELENS_API_KEY", help="Require this X-API-Key (except on health)."
    ),
    cors_origin: list[str] = typer.Option(
        [], help="Allow browser calls from this origin (repeatable); CORS is off by default."
    ),
    max_upload_mb: float = typer.Option(20.0, min=0.01, help="Largest image accepted, MiB."),
    workers: int | None = typer.Option(
        None, min=1, help="Analyses at once (default: the machine's cores, at least 2)."
    ),
    log_level: str = typer.Option(
        "info", callback=one_of(LOG_LEVELS), help=f"{', '.join(LOG_LEVELS)}."
    ),
    embedder: str = EmbedderOption,
    detector: str = DetectorOption,
    model: list[str] | None = ModelOption,
) -> None:
    """Serve the REST API under /v1, the web page at /, and OpenAPI docs at /docs."""
    import logging

    import uvicorn

    from facelens.api import Settings, create_app
    from facelens.api.logs import configure_logging

    configure_logging(getattr(logging, log_level.upper(), logging.INFO))
    options = {"workers": workers} if workers else {}
    settings = Settings(
        gallery_dir=None if no_gallery else gallery,
        api_key=api_key or None,
        cors_origins=cors_origin,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        embedder=embedder,
        detector=detector,
        attribute_models=chosen_models(model),
        **options,
    )
    with reporting_errors(False):  # e.g. a gallery of another embedder: exit 2, no traceback
        app = create_app(settings)
    # Our middleware writes one JSON line per request: uvicorn's access log would repeat it.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level=log_level)


def register(app: typer.Typer) -> None:
    app.command()(serve)


def chosen_models(pairs: list[str] | None) -> dict[str, str]:
    """`--model KIND=MODEL` options, checked, as {kind: model} (paths made absolute)."""
    from facelens.attributes.choice import DEFAULT_CHOICE

    chosen = attribute_models(pairs)
    return {
        kind: str(spec)
        for kind, spec in chosen.__dict__.items()
        if spec != getattr(DEFAULT_CHOICE, kind)
    }
