"""Rebuild with the toolchain that made the index's wheel, and compare that rebuild with it.

The controlled verdict is untouched: this is one more build, from the same sdist, under the
same controls (sandboxed, offline, hash-locked), in an environment whose backend is pinned to
the published wheel's Generator and whose other build requirements are resolved as the index
stood when the wheel was uploaded (:mod:`pipeline.upstream.infer`, :mod:`pipeline.upstream.toolchain`).
Only the ``upstream`` record changes: it compares this rebuild, and its ``toolchain`` says how it
was made.  When nothing can be inferred, the comparison with the controlled rebuild stands.

A release that publishes a pure wheel beside compiled ones, whose sdist builds a compiled wheel
here, is matched against that pure wheel: rebuilt with the switch its own build files read to
leave the extensions out (:mod:`pipeline.upstream.switches`), or left as it was when none is read
or the switch does not make a pure wheel.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement

from ..engine import environments
from ..engine.environments import uv_binary
from ..engine.fetch import fetch_artifact
from ..engine.net import Client
from ..engine.provision import load_lock, save_lock
from ..errors import NotInferred, PipelineError
from ..records import Artifact, Build, Environment, Release, Toolchain, Upstream
from .compare import Match, classify, pick_wheel, pure_name, pure_wheels
from .infer import Inference, WheelFacts, infer, read_build_system, read_wheel
from .switches import Scan, find_switches
from .toolchain import resolve_lock, uv_version

if TYPE_CHECKING:
    from ..engine.check import Checker
    from ..engine.prepare import Prepared

#: the rebuild's folder under the check's kept folder (beside 1/ and 2/)
LABEL = "upstream"
#: comparisons a matching rebuild could improve on
COMPARED = ("identical", "equivalent", "different")
#: comparisons of a compiled rebuild that the index's pure wheel, rebuilt without extensions, could replace
PURE_ELSEWHERE = ("not-comparable", "no-wheel")


def _published(release: Release, filename: str | None) -> Artifact | None:
    return next((w for w in release.wheels if w.filename == filename), None)


def json_api_url(index_url: str, name: str, version: str) -> str | None:
    """PyPI's JSON API for a release, when the index is PyPI's simple index; None otherwise."""
    parts = urllib.parse.urlsplit(index_url)
    if parts.scheme != "https" or parts.netloc not in ("pypi.org", "test.pypi.org"):
        return None
    return f"https://{parts.netloc}/pypi/{urllib.parse.quote(name)}/{urllib.parse.quote(version)}/json"


def upload_cutoff(client: Client, release: Release, artifact: Artifact) -> tuple[str, str]:
    """When the index's wheel was uploaded, and where that was read (PEP 700, or PyPI's JSON API)."""
    if artifact.upload_time:
        return artifact.upload_time, "the index's upload-time for the wheel (PEP 700)"
    url = json_api_url(release.index_url, release.name, release.version)
    if url is None:
        raise NotInferred("the index gives no upload time for the wheel (no PEP 700 upload-time), so the "
                          "build requirements cannot be resolved as they were")
    response = client.get(url, accept="application/json")
    try:
        files = json.loads(response.body)["urls"] if response.status == 200 else []
        stamp = next(f.get("upload_time_iso_8601") for f in files if f.get("filename") == artifact.filename)
    except (ValueError, KeyError, TypeError, StopIteration):
        stamp = None
    if not isinstance(stamp, str) or not stamp:
        raise NotInferred(f"neither the index nor PyPI's JSON API gives an upload time for {artifact.filename}")
    return stamp, "PyPI's JSON API (upload_time_iso_8601)"


def _record(status: str, facts: WheelFacts | None, inference: Inference | None, **fields) -> Toolchain:
    """The toolchain record: what was read, what was inferred, what was done with it."""
    if facts is not None:
        fields.setdefault("generator", facts.generator)
        fields.setdefault("metadata_version", facts.metadata_version)
        fields.setdefault("source", f"WHEEL Generator and METADATA of {facts.filename}")
    if inference is not None:
        fields.update(backend=inference.backend, version=inference.version, guessed=inference.guessed,
                      source_date_epoch=inference.source_date_epoch, timestamps=inference.timestamps,
                      notes=inference.notes, config_settings=inference.config_settings, env_vars=inference.env_vars)
        fields.setdefault("requirements", inference.requirements)
    return Toolchain(status, **fields)


def _missing(checker: Checker, prepared: Prepared, env: Environment, log: Path) -> list[str]:
    """What the backend asks for beyond the lock, from a fresh unpack (sandboxed, offline)."""
    return checker.provisioner.missing_requirements(prepared.interpreter, env, prepared.target.sdist_path,
                                                    prepared.build_dir, log, prepared.uid)


def environment(checker: Checker, prepared: Prepared, inference: Inference, cutoff: str, log: Path
                ) -> tuple[Environment, tuple[str, ...]]:
    """The pinned environment of the inferred toolchain and the requirements it was resolved from
    (the inference's, and what the backend's hook asked for): resolved once, cached, installed from hashes."""
    interpreter, uid = prepared.interpreter, prepared.uid
    toolchain = environments.read_lock(environments.toolchain_lock_path(interpreter))
    key = environments.fingerprint(prepared.target.sdist.sha256, inference.requirements, cutoff,
                                   environments.base_fingerprint(interpreter, toolchain))
    cached = checker.workspace.locks / LABEL / key[:2] / f"{key}-{interpreter.tag}.txt"
    asked = cached.with_suffix(".in")
    lock = load_lock(cached)
    if lock is not None and asked.is_file():
        return checker.provisioner.ensure(interpreter, toolchain, lock, log, uid), load_lock(asked) or ()
    pinned = (Requirement(inference.pinned).name,)

    def resolve(requirements: tuple[str, ...]) -> tuple[str, ...]:
        return resolve_lock(requirements, cutoff=cutoff, pinned=pinned, interpreter=interpreter,
                            provisioner=checker.provisioner, log=log, uid=uid)

    requirements = inference.requirements
    lock = resolve(requirements)
    env = checker.provisioner.ensure(interpreter, toolchain, lock, log, uid)
    missing = _missing(checker, prepared, env, log)
    if missing:
        requirements += tuple(missing)
        lock = resolve(requirements)
        env = checker.provisioner.ensure(interpreter, toolchain, lock, log, uid)
        still = _missing(checker, prepared, env, log)
        if still:
            raise NotInferred(f"the backend still asks for {', '.join(still)} in the inferred toolchain")
    save_lock(asked, requirements)
    save_lock(cached, lock)
    return env, requirements


def match_toolchain(checker: Checker, prepared: Prepared, controlled: Build, upstream: Upstream) -> Upstream:
    """``upstream`` (the ``controlled`` rebuild against the index's wheel), redone with the toolchain
    that made the index's wheel when that can be inferred; never raises a PipelineError.

    When the rebuild here is compiled but the index also publishes a pure wheel, that pure wheel is
    the one matched, built with the switch the sdist's own build files read to leave the extensions
    out (:mod:`pipeline.upstream.switches`)."""
    release = prepared.target.release
    if release is None or prepared.target.sdist_path is None:
        return upstream
    if upstream.status in PURE_ELSEWHERE and controlled is not None and controlled.wheel:
        pure = pure_artifact(release, controlled.wheel)
        if pure is not None:
            return _match_pure(checker, prepared, upstream, pure)
    artifact = _published(release, upstream.wheel)
    if upstream.status not in COMPARED or artifact is None:
        return upstream  # no published wheel, a repaired one, or no comparison at all: nothing to match
    return _match(checker, prepared, controlled.wheel or "", upstream, artifact)


def pure_artifact(release: Release, rebuilt: str) -> Artifact | None:
    """The index's pure wheel to compare a pure rebuild with, when the rebuild here is compiled."""
    names = pure_wheels(release.wheels, rebuilt)
    candidates = [w for w in release.wheels if w.filename in names]
    if not candidates:
        return None
    name, version = candidates[0].filename.split("-")[:2]
    match = pick_wheel(f"{name}-{version}-py3-none-any.whl", candidates)  # the one a py3 build would make
    return match.artifact if match else min(candidates, key=lambda w: (w.yanked, w.filename))


def _match_pure(checker: Checker, prepared: Prepared, upstream: Upstream, pure: Artifact) -> Upstream:
    """The index's pure wheel against a rebuild asked for no extensions, when the sdist says how."""
    try:
        scan = find_switches(prepared.target.sdist_path)
    except NotInferred as why:
        return dataclasses.replace(upstream, toolchain=Toolchain(
            "not-inferred", reason=f"the index also publishes a pure wheel, {pure.filename}: {why.reason}",
            today=upstream.status))
    if not scan.switches:
        return dataclasses.replace(upstream, toolchain=Toolchain(
            "not-inferred", today=upstream.status, notes=scan.notes(),
            reason=f"the index also publishes a pure wheel, {pure.filename}, but the sdist's build files "
                   f"({scan.searched()}) read no switch that leaves its extensions out, so it cannot be asked for"))
    return _match(checker, prepared, "", upstream, pure, scan)


def _match(checker: Checker, prepared: Prepared, rebuilt: str, upstream: Upstream, artifact: Artifact,
           scan: Scan | None = None) -> Upstream:
    """Rebuild in the toolchain that made ``artifact`` (with ``scan``'s switches: a pure build) and compare."""
    release = prepared.target.release
    facts = inference = None
    log = prepared.keep_dir / LABEL / "environment.log"
    try:
        published = fetch_artifact(checker.client, artifact, checker.workspace.wheels_cache)
        facts = read_wheel(published)
        inference = infer(facts, read_build_system(prepared.target.sdist_path), rebuilt)
        if scan is not None:
            inference = dataclasses.replace(inference, env_vars=scan.env_vars, notes=inference.notes + scan.notes(),
                                            config_settings=inference.config_settings + scan.config_settings)
        cutoff, cutoff_source = upload_cutoff(checker.client, release, artifact)
    except NotInferred as why:
        return dataclasses.replace(upstream, toolchain=_record("not-inferred", facts, inference, reason=why.reason,
                                                               today=upstream.status))
    except PipelineError as error:
        return dataclasses.replace(upstream, toolchain=_record("failed", facts, inference, reason=str(error),
                                                               today=upstream.status))
    inferred = dict(cutoff=cutoff, cutoff_source=cutoff_source, today=upstream.status)
    if upstream.status == "identical":
        return dataclasses.replace(upstream, toolchain=_record(
            "not-needed", facts, inference, reason="the controlled rebuild is already identical", **inferred))
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    try:
        inferred["resolver"] = f"{uv_version(uv_binary())} pip compile --no-build --exclude-newer CUTOFF"
        env, requirements = environment(checker, prepared, inference, cutoff, log)
        settings = prepared.controlled()
        env_vars = {k: v for k, v in settings.env_vars.items() if k != "SOURCE_DATE_EPOCH"}
        for name, value in (setting.split("=", 1) for setting in inference.env_vars):
            env_vars.setdefault(name, value)  # a name the sdist chose never overrides a control
        if inference.source_date_epoch is not None:
            env_vars["SOURCE_DATE_EPOCH"] = inference.source_date_epoch
        build, reason = checker.rebuild(dataclasses.replace(prepared, environment=env), LABEL, dataclasses.replace(
            settings, env_vars=env_vars, config_settings=inference.config_settings))
    except NotInferred as why:
        return dataclasses.replace(upstream, toolchain=_record("not-inferred", facts, inference, reason=why.reason,
                                                               **inferred))
    except PipelineError as error:
        return dataclasses.replace(upstream, toolchain=_record("failed", facts, inference, reason=str(error),
                                                               **inferred))
    done = dict(inferred, lock=env.requirements, fingerprint=env.fingerprint, build=build, requirements=requirements)
    if reason or not build.path:
        return dataclasses.replace(upstream, toolchain=_record(
            "failed", facts, inference, reason=f"the rebuild with the inferred toolchain failed: {reason or 'no wheel'}",
            **done))
    if scan is not None and not pure_name(build.wheel):
        return dataclasses.replace(upstream, toolchain=_record(
            "failed", facts, inference, reason=f"asked for no extensions ({', '.join(s.setting for s in scan.switches)}), "
            f"the sdist still built a compiled wheel, {build.wheel}: the switch did not work, so the index's pure "
            f"wheel is not compared", **done))
    match = pick_wheel(build.wheel, [artifact])
    if match is None:
        return dataclasses.replace(upstream, toolchain=_record(
            "failed", facts, inference, reason=f"the rebuild made {build.wheel}, not a wheel for {artifact.filename}'s tags",
            **done))
    try:
        return compare_matching(checker, match, build, published, _record("matched", facts, inference, **done),
                                scan.described() if scan else "")
    except PipelineError as error:  # the rebuilt wheel unreadable: the controlled comparison stands
        return dataclasses.replace(upstream, toolchain=_record("failed", facts, inference, reason=str(error), **done))


def compare_matching(checker: Checker, match: Match, build: Build, published: Path, toolchain: Toolchain,
                     switches: str = "") -> Upstream:
    """The matching rebuild against the index's wheel, with how it was made (``switches``: the sdist's
    own switches it was built with, in words)."""
    checker.workspace.scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=checker.workspace.scratch, prefix="upstream-") as folder:
        compared = classify(Path(build.path), published, match, Path(folder))
    pins = f"{toolchain.backend}=={toolchain.version}"
    switch = f" and without extensions ({switches})" if switches else ""
    note = (f"rebuilt with the toolchain that made it ({pins}, the rest as of {toolchain.cutoff}){switch}: "
            f"{compared.note}")
    return dataclasses.replace(compared, note=note, toolchain=toolchain)
