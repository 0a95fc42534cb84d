"""Hand-made container images for the import tests: layers as tar bytes, and
the three formats users have (docker-archive, OCI archive, OCI layout
directory), written with the Python standard library so that hostile layers
can be made exactly (podman/skopeo are not on the test machine)."""
import gzip
import hashlib
import io
import json
import os
import tarfile

def ti(name, type=tarfile.REGTYPE, mode=0o644, data=b"", linkname="", devmajor=0, devminor=0):
    t = tarfile.TarInfo(name); t.type = type; t.mode = mode; t.uid = 0; t.gid = 0
    t.linkname = linkname; t.devmajor = devmajor; t.devminor = devminor
    t.size = len(data) if type == tarfile.REGTYPE else 0
    return t, data

def layer(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for t, data in entries:
            tf.addfile(t, io.BytesIO(data) if t.type == tarfile.REGTYPE else None)
    return b.getvalue()

def docker_archive(path, layers, tag):
    with tarfile.open(path, "w") as out:
        names = []
        for i, l in enumerate(layers):
            n = "%064x/layer.tar" % (i + 1)
            t = tarfile.TarInfo(n); t.size = len(l); out.addfile(t, io.BytesIO(l)); names.append(n)
        cfg = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        t = tarfile.TarInfo("config.json"); t.size = len(cfg); out.addfile(t, io.BytesIO(cfg))
        man = json.dumps([{"Config": "config.json", "RepoTags": [tag] if tag else None, "Layers": names}]).encode()
        t = tarfile.TarInfo("manifest.json"); t.size = len(man); out.addfile(t, io.BytesIO(man))

def oci_files(layers, ref, gz=True):
    files = {}
    descs = []
    for l in layers:
        blob = gzip.compress(l, mtime=0) if gz else l
        d = hashlib.sha256(blob).hexdigest(); files["blobs/sha256/" + d] = blob
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else ""), "digest": "sha256:" + d, "size": len(blob)})
    cfg = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    cd = hashlib.sha256(cfg).hexdigest(); files["blobs/sha256/" + cd] = cfg
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": len(cfg)},
                      "layers": descs}).encode()
    md = hashlib.sha256(man).hexdigest(); files["blobs/sha256/" + md] = man
    idx = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md, "size": len(man),
            "annotations": {"org.opencontainers.image.ref.name": ref} if ref else {}}]}
    files["index.json"] = json.dumps(idx).encode()
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    return files

def oci_archive(path, layers, ref, gz=True):
    with tarfile.open(path, "w") as out:
        for n, data in oci_files(layers, ref, gz).items():
            t = tarfile.TarInfo(n); t.size = len(data); out.addfile(t, io.BytesIO(data))

def oci_dir(path, layers, ref, gz=True):
    for n, data in oci_files(layers, ref, gz).items():
        p = os.path.join(path, n); os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "wb").write(data)
