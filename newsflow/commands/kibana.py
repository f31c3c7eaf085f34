"""`newsflow kibana objects|load`: the data view, Discover sessions and dashboard for an alias.

``objects`` prints them as NDJSON (what ``schemas/kibana/objects.ndjson`` holds for ``news``);
``load`` posts them to Kibana's import API and reports each object's outcome. The import API
answers HTTP 200 even when it refuses objects (``"success": false`` and an ``errors`` list), so
``load`` reads the answer instead of trusting the status, and exits 1 naming what was refused.
Credentials come from the environment (``KIBANA_API_KEY``, or ``KIBANA_USERNAME`` and
``KIBANA_PASSWORD``), never from a flag.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

DEFAULT_KIBANA_URL = "http://localhost:5601"
IMPORT_PATH = "/api/saved_objects/_import?overwrite=true"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "kibana", help="print or load the Kibana data view, Discover sessions and dashboard"
    )
    p.add_argument(
        "action",
        choices=("objects", "load"),
        help="objects: print the NDJSON; load: import it into Kibana (overwriting by id)",
    )
    p.add_argument("--es_index", help="index alias the objects show (default $ES_INDEX, else news)")
    p.add_argument(
        "--kibana_url", help=f"Kibana to load into (default $KIBANA_URL, else {DEFAULT_KIBANA_URL})"
    )
    p.add_argument("--file", help="load this NDJSON file instead of the objects for the alias")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for Kibana")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsflow import es, kibana

    try:
        alias = es.EsConfig.from_env(index=args.es_index).index
    except ValueError as exc:
        print(f"newsflow kibana: {exc}", file=sys.stderr)
        return 2
    if args.action == "objects":
        sys.stdout.write(kibana.to_ndjson(kibana.saved_objects(alias)))
        return 0
    if args.file:
        try:
            ndjson = Path(args.file).read_bytes()
        except OSError as exc:
            print(f"newsflow kibana: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
        what = args.file
    else:
        ndjson = kibana.to_ndjson(kibana.saved_objects(alias)).encode()
        what = f"the objects for alias {alias}"
    url = (args.kibana_url or os.environ.get("KIBANA_URL") or DEFAULT_KIBANA_URL).rstrip("/")
    print(f"importing {what} into {url}")
    try:
        status, body = post_import(url, ndjson, auth_headers(os.environ), args.timeout)
    except OSError as exc:
        print(f"newsflow kibana: Kibana at {url} is unreachable: {_reason(exc)}", file=sys.stderr)
        return 1
    answer = _json_object(body)
    if status != 200 or answer is None:
        print(
            f"newsflow kibana: Kibana at {url} answered HTTP {status}: {_message(answer, body)}",
            file=sys.stderr,
        )
        return 1
    report = kibana.describe_import(answer)
    for line in report.lines:
        print(line)
    refused = len(answer.get("errors") or [])
    if not report.ok:
        print(
            f"newsflow kibana: Kibana refused {refused} object(s); "
            f"{answer.get('successCount', 0)} imported",
            file=sys.stderr,
        )
        return 1
    print(f"imported {answer.get('successCount', 0)} object(s)")
    return 0


def auth_headers(env: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """``Authorization`` from ``KIBANA_API_KEY`` (preferred) or ``KIBANA_USERNAME`` and
    ``KIBANA_PASSWORD``; none when neither is set (a local Kibana without security)."""
    if env.get("KIBANA_API_KEY"):
        return {"Authorization": f"ApiKey {env['KIBANA_API_KEY']}"}
    if env.get("KIBANA_USERNAME"):
        pair = f"{env['KIBANA_USERNAME']}:{env.get('KIBANA_PASSWORD', '')}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    return {}


def post_import(
    url: str, ndjson: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    """POST ``ndjson`` as the multipart ``file`` field of ``_import``; (status, body). The
    ``kbn-xsrf`` header is what Kibana asks of every API call that changes something."""
    boundary = f"newsflow-{uuid.uuid4().hex}"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="objects.ndjson"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode() + ndjson + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url + IMPORT_PATH,
        data=body,
        method="POST",
        headers={
            "kbn-xsrf": "newsflow",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:  # an answer all the same: the caller reads it
        try:
            return exc.code, exc.read()
        finally:
            exc.close()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _message(answer: dict[str, Any] | None, body: bytes) -> str:
    """Kibana's error answer is ``{"statusCode", "error", "message"}``; else the body's start."""
    if answer and answer.get("message"):
        return str(answer["message"])
    if answer and answer.get("error"):
        return str(answer["error"])
    return body[:200].decode("utf-8", "replace").strip() or "(empty answer)"


def _reason(exc: OSError) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return getattr(reason, "strerror", None) or str(reason)
