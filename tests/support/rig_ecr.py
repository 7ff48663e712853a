"""The rig's ECR API: moto's server, joined to the rig's registry as ECR's API and registry are one
service. In ECR an image pushed through the registry protocol is at once visible to
DescribeImages, BatchGetImage and the scan APIs; moto alone knows only images put through its API.
So before moto answers an ECR request that names a repository, every tag the registry holds for
that repository is read from the registry's storage (synchronously, so a push that has returned is
visible to the next call, as in ECR) and put into moto's repository with the registry's digest.
Nothing else is changed: repositories still come from CreateRepository, moto still answers.

    python rig_ecr.py --host 127.0.0.1 --port 5055 --registry-storage DIR --account A --region R
"""

import argparse
import io
import json
import os
import sys
import threading
from pathlib import Path

from moto.ecr.models import ecr_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
# Requests after which the repository's contents do not matter (or it does not exist yet).
NO_SYNC = {"CreateRepository", "DeleteRepository", "DescribeRepositories", "GetAuthorizationToken"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Joined:
    def __init__(self, app, storage: Path, account: str, region: str):
        self.app = app
        self.v2 = storage / "docker" / "registry" / "v2"
        self.account = account
        self.region = region
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX):] not in NO_SYNC:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            try:
                request = json.loads(body or b"{}")
                name = request.get("repositoryName")
                if name and request.get("registryId", self.account) == self.account:
                    self.sync(name)
            except Exception as e:  # the join must never stop moto from answering
                print(f"rig-ecr: sync failed: {e!r}", file=sys.stderr, flush=True)
        return self.app(environ, start_response)

    def registry_tags(self, name: str):
        """(tag, digest) for each tag the registry's storage holds for `name`."""
        tags = self.v2 / "repositories" / name / "_manifests" / "tags"
        if not tags.is_dir():
            return
        for tag in sorted(os.listdir(tags)):
            try:
                yield tag, (tags / tag / "current" / "link").read_text().strip()
            except OSError:
                continue

    def manifest(self, digest: str) -> str:
        algo, hexd = digest.split(":", 1)
        return (self.v2 / "blobs" / algo / hexd[:2] / hexd / "data").read_text()

    def sync(self, name: str):
        backend = ecr_backends[self.account][self.region]
        with self.lock:
            repository = backend.repositories.get(name)
            if repository is None:
                return
            held = {t: i.get_image_digest() for i in repository.images for t in i.image_tags}
            for tag, digest in self.registry_tags(name):
                if held.get(tag) == digest:
                    continue
                try:
                    manifest = self.manifest(digest)
                    media_type = json.loads(manifest).get("mediaType") or OCI_MANIFEST
                    backend.put_image(name, manifest, tag, media_type, digest)
                except Exception as e:  # an immutable tag ECR already holds, say
                    print(f"rig-ecr: {name}:{tag} not joined: {e!r}", file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5055)
    p.add_argument("--registry-storage", required=True, type=Path)
    p.add_argument("--account", required=True)
    p.add_argument("--region", required=True)
    a = p.parse_args()
    os.environ.setdefault("MOTO_PORT", str(a.port))
    app = Joined(DomainDispatcherApplication(create_backend_app), a.registry_storage, a.account, a.region)
    run_simple(a.host, a.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
