#!/bin/sh
# Import newsflow's Kibana objects (schemas/kibana/objects.ndjson, the output of
# `newsflow kibana objects`) into the Kibana at $1, replacing objects with the same ids.
# Kibana's _import answers HTTP 200 even when it refuses objects ("success":false and an
# "errors" list naming each one and why), so the answer is read, not only the status: the same
# check `newsflow kibana load` makes, for a container without Python.
set -eu
kibana=${1:-http://localhost:5601}
objects=${2:-/objects/objects.ndjson}
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT
status=$(curl -sS -o "$answer" -w '%{http_code}' -X POST \
  "$kibana/api/saved_objects/_import?overwrite=true" \
  -H "kbn-xsrf: newsflow" --form file=@"$objects")
cat "$answer"
echo
if [ "$status" != 200 ]; then
  echo "load-objects: Kibana at $kibana answered HTTP $status" >&2
  exit 1
fi
if ! grep -Eq '"success" *: *true' "$answer"; then
  echo "load-objects: Kibana refused objects: see \"errors\" in its answer above" >&2
  exit 1
fi
count=$(grep -Eo '"successCount" *: *[0-9]+' "$answer" | grep -Eo '[0-9]+$' || true)
echo "load-objects: imported $count objects"
