#!/usr/bin/env bash
# Build and run newsflow as a Dataflow flex template. Not run in CI: it needs a Google Cloud
# project, gcloud, and Docker (or Cloud Build).
#
#   deploy/dataflow/launch.sh build     # wheel -> image in Artifact Registry -> template spec in GCS
#   deploy/dataflow/launch.sh run       # start a job from the template
#   deploy/dataflow/launch.sh context   # only prepare the image's build context; prints its path
#
# Settings (environment):
#   PROJECT, REGION          Google Cloud project and region                (required)
#   BUCKET                   gs://bucket for the template spec, staging, temp (required)
#   REPOSITORY               Artifact Registry Docker repository             (default: newsflow)
#   TAG                      image tag                                       (default: the wheel version)
#   FEEDS, ES_URL            template parameters feeds and es_url            (required for run)
#   ES_INDEX                 index alias                                     (default: news)
#   ES_API_KEY_FILE          gs:// file holding an Elasticsearch API key     (optional)
#   STREAMING                true or false                                   (default: true)
#   JOB_NAME                 Dataflow job name                               (default: newsflow-<time>)
#   SERVICE_ACCOUNT          worker service account e-mail                   (optional)
set -euo pipefail

cd "$(dirname "$0")/../.."
if [[ "${1:-}" == context ]]; then
    PROJECT=${PROJECT:-unset} REGION=${REGION:-unset} BUCKET=${BUCKET:-unset}
fi
: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET (gs://...)}"
REPOSITORY=${REPOSITORY:-newsflow}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
TAG=${TAG:-$VERSION}
IMAGE="$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY/newsflow-dataflow:$TAG"
TEMPLATE="$BUCKET/templates/newsflow-$TAG.json"

# The image's build context: this directory's Dockerfile and main.py plus the newsflow wheel,
# nothing else (the repository holds a virtualenv and caches that must not be uploaded).
context() {
    local dir
    dir=$(mktemp -d)
    python -m pip wheel --quiet --no-deps -w "$dir" .
    cp deploy/dataflow/Dockerfile deploy/dataflow/main.py "$dir/"
    echo "$dir"
}

build() {
    local dir
    dir=$(context)
    # Cloud Build, so no local Docker is needed; with Docker:
    #   docker build -t "$IMAGE" "$dir" && docker push "$IMAGE"
    gcloud builds submit --project "$PROJECT" --region "$REGION" --tag "$IMAGE" "$dir"
    rm -rf "$dir"
    gcloud dataflow flex-template build "$TEMPLATE" \
        --project "$PROJECT" \
        --image "$IMAGE" \
        --sdk-language PYTHON \
        --metadata-file deploy/dataflow/metadata.json
    echo "template: $TEMPLATE"
}

run() {
    : "${FEEDS:?set FEEDS (gs://.../feeds.txt)}" "${ES_URL:?set ES_URL}"
    local streaming=${STREAMING:-true}
    local params="feeds=$FEEDS,es_url=$ES_URL,es_index=${ES_INDEX:-news},streaming=$streaming"
    params+=",sdk_container_image=$IMAGE"
    [[ -n "${ES_API_KEY_FILE:-}" ]] && params+=",es_api_key_file=$ES_API_KEY_FILE"
    local extra=()
    [[ "$streaming" == true ]] && extra+=(--enable-streaming-engine)
    [[ -n "${SERVICE_ACCOUNT:-}" ]] && extra+=(--service-account-email "$SERVICE_ACCOUNT")
    gcloud dataflow flex-template run "${JOB_NAME:-newsflow-$(date +%Y%m%d-%H%M%S)}" \
        --project "$PROJECT" \
        --region "$REGION" \
        --template-file-gcs-location "$TEMPLATE" \
        --staging-location "$BUCKET/staging" \
        --temp-location "$BUCKET/temp" \
        --parameters "$params" \
        "${extra[@]}"
}

case "${1:-}" in
    context) context ;;
    build) build ;;
    run) run ;;
    *) echo "usage: $0 context|build|run" >&2; exit 2 ;;
esac
