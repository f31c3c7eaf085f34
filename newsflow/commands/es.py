"""`newsflow es start|stop|status`: the local single-node Elasticsearch for development."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("es", help="start, stop or describe the local Elasticsearch node")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument(
        "--port", type=int, default=None, help="HTTP port (default 9200 or $NEWSFLOW_ES_PORT)"
    )
    p.add_argument("--heap", default="1g", help="JVM heap, e.g. 1g (default)")
    p.add_argument("--json", action="store_true", help="print status as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from local import esnode

    node = esnode.LocalNode(port=args.port or esnode.default_port(), heap=args.heap)
    try:
        if args.action == "start":
            esnode.start(node)
        elif args.action == "stop":
            stopped = esnode.stop(node)
            print("stopped" if stopped else f"no node of ours was running on port {node.port}")
            return 0
    except esnode.NodeError as exc:
        print(f"newsflow es: {exc}", file=sys.stderr)
        return 1
    info = esnode.status(node)
    if args.json:
        print(json.dumps(info))
    elif not info["running"]:
        print(f"{node.url}: not running")
    else:
        print(f"url      {info['url']}\nversion  {info['version']}\nhealth   {info['health']}")
        print(f"modules  {', '.join(info['modules'])}")  # type: ignore[arg-type]
        if info["plugins"]:
            print(f"plugins  {', '.join(info['plugins'])}")  # type: ignore[arg-type]
    return 0 if info["running"] else 3
