"""The browser's files: the demo page at ``/``, the console at ``/console``, the widget under ``/widget/``.

The widget is embedded by other sites (its files are for any origin); the console runs only our
own files, under a strict Content-Security-Policy. Neither the console nor the demo page may be
framed by another page (clickjacking); the demo page's policy says only that, since its embed
snippet is inline, as a host site's would be.
"""

from __future__ import annotations

from pathlib import Path

from sanic import Request, response
from sanic.response import HTTPResponse

__all__ = ["CONSOLE_POLICY", "DEMO_POLICY", "WIDGET_DIR", "browser_headers", "console", "demo", "widget_file"]

WIDGET_DIR = Path(__file__).resolve().parent.parent.parent / "widget"
# The console runs only our own files; the widget is embedded by other sites.
# blob: a chat's pictures, read with the agent's token into object URLs (widget/shared/files.js).
CONSOLE_POLICY = ("default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                  "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DEMO_POLICY = "frame-ancestors 'none'"


def widget_file(relative: str) -> bool:
    """Whether a file (not a directory) in widget/ has this name."""
    try:
        file = (WIDGET_DIR / relative).resolve()
        return file.is_relative_to(WIDGET_DIR) and file.is_file()
    except (OSError, ValueError):  # a NUL in the name, a name too long
        return False


async def demo(request: Request) -> HTTPResponse:
    return await response.file(WIDGET_DIR / "demo" / "index.html")


async def console(request: Request) -> HTTPResponse:
    return await response.file(WIDGET_DIR / "console" / "index.html")


async def browser_headers(request: Request, reply: HTTPResponse) -> None:
    reply.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/widget/"):
        # Host pages on other origins load the widget's modules and styles.
        reply.headers["Access-Control-Allow-Origin"] = "*"
        reply.headers.setdefault("Cache-Control", "no-cache")
    if request.path == "/console" or request.path.startswith("/widget/console/"):
        reply.headers["Content-Security-Policy"] = CONSOLE_POLICY
        reply.headers["X-Frame-Options"] = "DENY"
    elif request.path == "/":
        reply.headers["Content-Security-Policy"] = DEMO_POLICY
        reply.headers["X-Frame-Options"] = "DENY"
