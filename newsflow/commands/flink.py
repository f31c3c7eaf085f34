"""`newsflow flink cluster start|stop|status`: a local Flink session cluster to try a job on."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("flink", help="start, stop or describe a local Flink session cluster")
    p.add_argument("what", choices=("cluster",))
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--rest_port", type=int, default=8081, help="the REST API and web UI")
    p.add_argument("--job_port", type=int, default=8099, help="Beam's job server")
    p.add_argument("--worker_pool_port", type=int, default=50000, help="the Python worker pool")
    p.add_argument("--taskmanagers", type=int, default=2, help="TaskManager JVMs")
    p.add_argument("--json", action="store_true", help="print status as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from local import flinkcluster

    home = flinkcluster.default_home()
    try:
        if args.action == "start":
            spec = flinkcluster.ClusterSpec(
                home=home, rest_port=args.rest_port, job_port=args.job_port,
                artifact_port=args.job_port - 1, expansion_port=args.job_port - 2,
                worker_pool_port=args.worker_pool_port, taskmanagers=args.taskmanagers)
            cluster = flinkcluster.start(spec)
            if cluster.started_in:
                print(f"started in {cluster.started_in:.0f} s (logs in {cluster.log_dir})")
        elif args.action == "stop":
            stopped = flinkcluster.stop(home)
            print("stopped" if stopped else "no cluster of ours was running")
            return 0
    except flinkcluster.ClusterError as exc:
        print(f"newsflow flink: {exc}", file=sys.stderr)
        return 1
    info = flinkcluster.status(home)
    if args.json:
        print(json.dumps(info))
    elif not info["running"]:
        print("no local Flink cluster is running (newsflow flink cluster start)")
    else:
        print(f"Flink UI      {info['rest_url']}\n"
              f"Flink         {info['flink_version']}, {info['taskmanagers']} TaskManagers, "
              f"{info['slots']} slots, {info['jobs_running']} jobs running\n"
              f"job server    {info['job_endpoint']}\nworker pool   {info['worker_pool']}\n"
              "submit with (the workers are on this machine: a local dead-letter path works):\n"
              f"  newsflow ingest --feeds FILE --runner PortableRunner "
              f"--job_endpoint {info['job_endpoint']} \\\n"
              f"    --environment_type EXTERNAL --environment_config {info['worker_pool']} "
              "--dead_letters deadletters/run.jsonl [--streaming]")
    return 0 if info["running"] else 3
