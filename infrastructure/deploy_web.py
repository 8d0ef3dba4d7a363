"""Upload the web dashboard's build to a deployed stack (`make deploy-web`).

    python -m infrastructure.deploy_web [--dist web/dist] [--stack NAME] [--region REGION] [--dry-run]

Reads the stack's outputs (WebBucketName, WebDistributionId, WebUrl, ApiUrl;
the stack name and region from samconfig.toml unless given), warns when the
stack's CSP or CORS parameters would keep the app from calling the API, then:

1. uploads every file of the build with its Content-Type and Cache-Control
   (`cache_control`: a file whose name carries a content hash or a version is
   cached for a year, immutable; index.html and every other file is `no-cache`,
   revalidated on each use, so a deploy is seen at once), index.html last, so
   a new page never names an asset not yet uploaded; a file the bucket already
   has with the same bytes and headers is left alone (no new version);
2. writes `config.json`, what the app needs to know about this deployment: the
   API's base URL (another origin than the page's in production; the local build's
   config.json names none, as the local gateway serves the app itself) and the map
   tile URL template (the stack's WebTileUrl parameter);
3. deletes the bucket's files that are not part of this build (the bucket is
   versioned: they stay restorable for 30 days, docs/deploy.md);
4. invalidates the distribution's cache (`/*`) when anything changed, and prints
   the dashboard's URL.

A build without index.html is refused, so a failed build never empties the site.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import mimetypes
import pathlib
import re
import sys
import time
import tomllib
from dataclasses import dataclass

from infrastructure.cfn import ROOT

DIST = ROOT / "web" / "dist"
SAMCONFIG = ROOT / "samconfig.toml"
CONFIG_KEY = "config.json"

NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"

# Types the app's files have, whatever the machine's mime.types says.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}

# A content hash in a file name: a dot- or dash-separated part of 8 to 64
# letters, digits, _ or -, with at least one digit and one letter
# (index-BfXk9sQ2.js, app.3f2a9c1b.css).
_HASH = re.compile(r"[.-](?=[A-Za-z0-9_]*\d)(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{8,64}\.[^/]+$")
# A version in the path: vendor/leaflet-1.9.4/leaflet.js, vendor/uplot@1.6.32.min.js.
_VERSION = re.compile(r"(^|[/@-])v?\d+\.\d+\.\d+([/.-]|$)")


def content_type(key: str) -> str:
    suffix = pathlib.PurePosixPath(key).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def cache_control(key: str) -> str:
    """A year, immutable, for a file whose path proves its content (a hash in its
    name, or a version in its path): any change makes a new name. Everything
    else, index.html first, is revalidated on each use (a 304 when unchanged)."""
    if key.lower().endswith(".html"):
        return NO_CACHE
    if _HASH.search(key) or _VERSION.search(key):
        return IMMUTABLE
    return NO_CACHE


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes
    content_type: str
    cache_control: str


def plan(dist: pathlib.Path, config: dict) -> list[Upload]:
    """Every file of the build, then config.json, then index.html."""
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist}/index.html not found: build the app first (make web)")
    files = sorted(p for p in dist.rglob("*") if p.is_file() and not p.name.startswith("."))
    uploads = []
    for path in files:
        key = path.relative_to(dist).as_posix()
        if key in (CONFIG_KEY, "index.html"):
            continue
        uploads.append(Upload(key, path.read_bytes(), content_type(key), cache_control(key)))
    body = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    uploads.append(Upload(CONFIG_KEY, body, content_type(CONFIG_KEY), NO_CACHE))
    uploads.append(Upload("index.html", (dist / "index.html").read_bytes(), content_type("index.html"), NO_CACHE))
    return uploads


def samconfig_defaults(path: pathlib.Path = SAMCONFIG) -> tuple[str, str | None]:
    """Stack name and region as `sam deploy` would use them (deploy, then global parameters)."""
    env = tomllib.loads(path.read_text()).get("default", {})
    merged = {**env.get("global", {}).get("parameters", {}), **env.get("deploy", {}).get("parameters", {})}
    return merged.get("stack_name", "gridpulse"), merged.get("region")


def stack_outputs(cloudformation, stack_name: str) -> tuple[dict, dict]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    missing = {"WebBucketName", "WebDistributionId", "WebUrl", "ApiUrl"} - set(outputs)
    if missing:
        raise SystemExit(f"stack {stack_name} has no output {', '.join(sorted(missing))}: deploy the template first")
    return outputs, parameters


def origin_warnings(outputs: dict, parameters: dict) -> list[str]:
    """What would stop the uploaded app from calling the API: a CSP connect-src pinned
    to another origin than ApiUrl's, or a CORS origin that is neither the dashboard's nor *."""
    warnings = []
    api_origin = "/".join(outputs["ApiUrl"].split("/")[:3])
    pinned = parameters.get("WebApiOrigin", "")
    if pinned and pinned != api_origin:
        warnings.append(f"WebApiOrigin is {pinned} but the API is {api_origin}: the CSP will block the app's API calls")
    cors = parameters.get("CorsAllowOrigin", "")
    if cors not in ("", "*", outputs["WebUrl"]):
        warnings.append(
            f"CorsAllowOrigin is {cors}: browsers on {outputs['WebUrl']} cannot read the API's answers"
            " (fine only if the dashboard is served from that origin)"
        )
    return warnings


def _existing(s3, bucket: str) -> dict[str, str]:
    """Key -> ETag of every object in the bucket."""
    etags: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        etags.update((o["Key"], o["ETag"]) for o in page.get("Contents", []))
    return etags


def _unchanged(s3, bucket: str, upload: Upload, etag: str | None) -> bool:
    """The object already has these bytes (a single-part upload's ETag is their MD5)
    and these headers: uploading it again would only add a version."""
    if etag != f'"{hashlib.md5(upload.body).hexdigest()}"':
        return False
    head = s3.head_object(Bucket=bucket, Key=upload.key)
    return (head.get("ContentType"), head.get("CacheControl")) == (upload.content_type, upload.cache_control)


def deploy(session, stack_name: str, dist: pathlib.Path, dry_run: bool = False, log=print) -> dict:
    """Upload `dist` to the stack's web bucket; returns what was done."""
    outputs, parameters = stack_outputs(session.client("cloudformation"), stack_name)
    bucket, distribution = outputs["WebBucketName"], outputs["WebDistributionId"]
    config = {"apiBase": outputs["ApiUrl"], "tileUrl": parameters.get("WebTileUrl", "")}
    for warning in origin_warnings(outputs, parameters):
        log(f"WARNING: {warning}")
    uploads = plan(dist, config)
    s3 = session.client("s3")
    would = "would " if dry_run else ""
    existing = _existing(s3, bucket)
    stale = sorted(set(existing) - {u.key for u in uploads})
    uploaded, unchanged = [], []
    for upload in uploads:
        if _unchanged(s3, bucket, upload, existing.get(upload.key)):
            unchanged.append(upload.key)
            continue
        uploaded.append(upload.key)
        log(f"{would}upload s3://{bucket}/{upload.key}  {upload.content_type}  {upload.cache_control}")
        if not dry_run:
            s3.put_object(
                Bucket=bucket,
                Key=upload.key,
                Body=upload.body,
                ContentType=upload.content_type,
                CacheControl=upload.cache_control,
                ContentMD5=_md5(upload.body),
            )
    for start in range(0, len(stale), 1000):
        batch = stale[start : start + 1000]
        log(f"{would}delete " + " ".join(batch))
        if not dry_run:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
    invalidation = None
    if not dry_run and (uploaded or stale):
        answer = session.client("cloudfront").create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": f"deploy-web-{time.time_ns()}",
            },
        )
        invalidation = answer["Invalidation"]["Id"]
        log(f"invalidation {invalidation} of /* on {distribution} (a few minutes)")
    log(
        f"{'would deploy' if dry_run else 'deployed'} {len(uploaded)} files ({len(unchanged)} unchanged,"
        f" {len(stale)} deleted) to {outputs['WebUrl']}"
    )
    return {
        "uploaded": uploaded,
        "unchanged": unchanged,
        "deleted": stale,
        "invalidation": invalidation,
        "url": outputs["WebUrl"],
    }


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def main(argv: list[str] | None = None) -> int:
    stack_name, region = samconfig_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=pathlib.Path, default=DIST, help="the build folder (default web/dist)")
    parser.add_argument("--stack", default=stack_name, help=f"stack name (default {stack_name}, samconfig.toml)")
    parser.add_argument("--region", default=region, help=f"region (default {region}, samconfig.toml)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be uploaded and deleted")
    args = parser.parse_args(argv)

    import boto3

    deploy(boto3.session.Session(region_name=args.region), args.stack, args.dist, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
