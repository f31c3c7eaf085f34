#!/bin/sh
# Import newsflow's Kibana objects (schemas/kibana/objects.ndjson) into the Kibana at $1.
# Idempotent: overwrite=true replaces objects with the same ids.
set -eu
kibana=${1:-http://localhost:5601}
objects=${2:-/objects/objects.ndjson}
curl -fsS -X POST "$kibana/api/saved_objects/_import?overwrite=true" \
  -H "kbn-xsrf: newsflow" --form file=@"$objects"
echo
