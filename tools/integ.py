"""Run the integration tests (tests/integ/integ_*.py): verify their snapshots offline, update them, or
deploy them to an AWS account, check their assertions and destroy them.

    python tools/integ.py verify [TEST ...]          # offline: each app's synthesis against its snapshot
    python tools/integ.py snapshot [TEST ...]        # offline: rewrite the snapshots (an intended change)
    python tools/integ.py run [TEST ...] [--costly] [--update-on-failed] [--keep]
                                                     # deploy, assert, destroy (make integ)

TEST is a test's file name without ``.py`` (``integ_network_storage``); default: every cheap test, and with
``--costly`` the tests under tests/integ/costly/ too (they start SageMaker jobs and endpoints).

Why not integ-runner itself: @aws-cdk/integ-runner 2.197.10, the newest on npm (2026-11-27), bundles
toolkit-lib 1.20.1, which reads cloud assembly schema 53 at most; aws-cdk-lib 2.275 writes 55, so integ-runner
stops with AssemblyVersionMismatch even when verifying a snapshot (its bundle does not use the CLI that
package.json pins), so it is not installed. This script keeps integ-runner's conventions so that switching back
(once a release reads schema 55: add it to package.json) is a change to the Makefile: the apps are integ-tests-alpha ``IntegTest`` apps, snapshots live in ``<test>.py.snapshot/``, the
assertions are read from the assertion stack's ``AssertionResults`` outputs, and ``--update-on-failed``
rewrites the snapshot of a test that deployed and passed. The snapshot holds the templates and integ.json
(not the assets: the assertion provider alone is 6 MB); asset hashes are in the templates, so a change to a
function's code changes the snapshot.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INTEG = REPO / "tests" / "integ"
SALT = re.compile(r'("salt": )"\d+"')
"""integ-tests-alpha gives each API call a timestamp (so that it runs on every deployment): masked."""
SNAPSHOT_FILES = ("*.template.json", "integ.json")


def discover(names: list[str], costly: bool) -> list[Path]:
    """The test files named (every one when none is), in a stable order."""
    found = sorted(INTEG.glob("integ_*.py")) + sorted((INTEG / "costly").glob("integ_*.py"))
    if names:
        by_name = {path.stem: path for path in found}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise SystemExit(f"unknown integration test(s): {', '.join(unknown)}; known: {', '.join(sorted(by_name))}")
        return [by_name[name] for name in names]
    return [path for path in found if costly or path.parent == INTEG]


def snapshot_dir(test: Path) -> Path:
    return test.with_name(f"{test.name}.snapshot")


def synthesize(test: Path, outdir: Path) -> None:
    """The test app's cloud assembly in ``outdir`` (the app runs as integ-runner runs it: a script in its folder)."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir)}
    result = subprocess.run([sys.executable, test.name], cwd=test.parent, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{test.stem}: the app failed to synthesize:\n{result.stderr[-4000:]}")


def snapshot_files(assembly: Path) -> dict[str, str]:
    """The snapshot's files of an assembly, by name, with the API calls' salts masked."""
    files: dict[str, str] = {}
    for pattern in SNAPSHOT_FILES:
        for path in sorted(assembly.glob(pattern)):
            files[path.name] = SALT.sub(r'\1"<salt>"', path.read_text(encoding="utf-8"))
    return files


def differences(test: Path, assembly: Path) -> list[str]:
    """What differs between the test's synthesis and its committed snapshot (empty: they agree)."""
    expected_dir = snapshot_dir(test)
    if not expected_dir.is_dir():
        return [f"no snapshot: {expected_dir.relative_to(REPO)} does not exist"]
    actual, expected = snapshot_files(assembly), {p.name: p.read_text(encoding="utf-8") for p in expected_dir.iterdir()}
    problems = [f"{name}: in the synthesis, not in the snapshot" for name in sorted(actual.keys() - expected.keys())]
    problems += [f"{name}: in the snapshot, not in the synthesis" for name in sorted(expected.keys() - actual.keys())]
    for name in sorted(actual.keys() & expected.keys()):
        if json.loads(actual[name]) != json.loads(expected[name]):
            problems.append(f"{name}: differs from the snapshot")
    return problems


def write_snapshot(test: Path, assembly: Path) -> None:
    target = snapshot_dir(test)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for name, text in snapshot_files(assembly).items():
        (target / name).write_text(text, encoding="utf-8")


def verify(tests: list[Path]) -> int:
    failed = 0
    for test in tests:
        with tempfile.TemporaryDirectory(prefix="integ-") as tmp:
            synthesize(test, Path(tmp))
            problems = differences(test, Path(tmp))
        print(f"  {'CHANGED' if problems else 'UNCHANGED':9}  {test.stem}")
        for problem in problems:
            print(f"             {problem}")
        failed += bool(problems)
    if failed:
        print(f"{failed} snapshot(s) differ. If the change is intended, run `python tools/integ.py snapshot` (offline) or "
              "`make integ INTEG_ARGS=--update-on-failed` (deploys), and say why in the commit.")
    return 1 if failed else 0


def write_snapshots(tests: list[Path]) -> int:
    for test in tests:
        with tempfile.TemporaryDirectory(prefix="integ-") as tmp:
            synthesize(test, Path(tmp))
            write_snapshot(test, Path(tmp))
        print(f"  WRITTEN    {snapshot_dir(test).relative_to(REPO)}")
    return 0


def account_or_refusal(region: str) -> str:
    """The account of the current credentials, or a clear refusal."""
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is in the dev extra
        raise SystemExit("make integ needs boto3 (make setup installs it)") from None
    try:
        return boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as err:
        raise SystemExit(
            "make integ deploys the integration tests to an AWS account, and no usable credentials were found "
            f"({type(err).__name__}: {err}). Give credentials for a sandbox account whose region is bootstrapped "
            "(`cdk bootstrap`), e.g. AWS_PROFILE=sandbox make integ; docs/testing.md lists the permissions. "
            "`make test` verifies the snapshots without an account."
        ) from None


def expected_assertions(assembly: Path) -> set[str]:
    """The ``AssertionResults`` outputs the synthesized assertion stacks declare: each must come back from the deploy."""
    return {key for template in assembly.glob("*DeployAssert*.template.json")
            for key in json.loads(template.read_text(encoding="utf-8")).get("Outputs", {}) if key.startswith("AssertionResults")}


def assertion_failures(outputs: dict[str, dict[str, str]], expected: set[str] | None = None) -> list[str]:
    """The failed assertions among the deployed stacks' ``AssertionResults`` outputs (integ-tests-alpha), and each of
    ``expected`` that no stack returned (a deploy that wrote fewer results must not pass)."""
    returned = {key for values in outputs.values() for key in values if key.startswith("AssertionResults")}
    failures = [f"{key}: no result came back from the deploy" for key in sorted((expected or set()) - returned)]
    for stack, values in outputs.items():
        for key, value in values.items():
            if not key.startswith("AssertionResults"):
                continue
            try:
                result = json.loads(value)
            except json.JSONDecodeError:
                failures.append(f"{stack}.{key}: not an assertion result: {value!r}")
                continue
            if result.get("status") != "success":
                failures.append(f"{stack}.{key}: {result.get('message', result)}")
    return failures


def test_region(assembly: Path) -> str:
    """The region the test deploys to: its ``IntegTest(regions=[...])``, from the configuration's region."""
    cases = json.loads((assembly / "integ.json").read_text(encoding="utf-8"))["testCases"]
    return next(iter(cases.values()))["regions"][0]


def cdk(region: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's CDK CLI (package.json) in ``region``; deploys never wait for a person."""
    command = ["cdk", *args, "--no-notices", *(("--require-approval", "never") if args[0] == "deploy" else ())]
    print("  $ " + " ".join(command), flush=True)
    env = {**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    return subprocess.run(command, cwd=REPO, env=env, text=True)


def configured_region() -> str:
    """The region of the configuration the tests read (``INTEG_CONFIG``, default config/default.yaml)."""
    sys.path.insert(0, str(REPO))
    from mlops_constructs.config import load_config

    return load_config(os.environ.get("INTEG_CONFIG") or REPO / "config" / "default.yaml").region


def run(tests: list[Path], update_on_failed: bool, keep: bool) -> int:
    account = account_or_refusal(configured_region())
    failed = 0
    for test in tests:
        print(f"== {test.stem} (account {account})", flush=True)
        outdir = REPO / "cdk-integ.out" / test.stem
        shutil.rmtree(outdir, ignore_errors=True)
        synthesize(test, outdir)
        outputs_file = outdir.parent / f"{test.stem}.outputs.json"
        outputs_file.unlink(missing_ok=True)  # an earlier run's results must not be read as this one's
        region = test_region(outdir)
        failures: list[str] = []
        try:
            deployed = cdk(region, "deploy", "--app", str(outdir), "--all", "--outputs-file", str(outputs_file)).returncode == 0
            if deployed:
                outputs = json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
                failures += assertion_failures(outputs, expected_assertions(outdir))
            else:
                failures.append("the deployment failed (an assertion that waits, or a resource, failed: see above)")
        finally:
            if not keep:
                destroyed = cdk(region, "destroy", "--app", str(outdir), "--all", "--force").returncode == 0
                if not destroyed:
                    # What is left keeps billing, and its fixed names fail the next run: a failure, not a note.
                    failures.append("the destroy failed: find what is left by the tag mlops:integ-test and destroy again "
                                    "(docs/testing.md)")
        if failures:
            failed += 1
            print(f"  FAILED     {test.stem}")
            for failure in failures:
                print(f"             {failure}")
        else:
            print(f"  PASSED     {test.stem}")
            if update_on_failed and differences(test, outdir):
                write_snapshot(test, outdir)
                print(f"  WRITTEN    {snapshot_dir(test).relative_to(REPO)}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("verify", "snapshot", "run"))
    parser.add_argument("tests", nargs="*", help="test file names without .py; default: every cheap test")
    parser.add_argument("--costly", action="store_true", help="also the tests under tests/integ/costly (SageMaker jobs and endpoints)")
    parser.add_argument("--update-on-failed", action="store_true", help="run: rewrite the snapshot of a test that passed and changed")
    parser.add_argument("--keep", action="store_true", help="run: leave the stacks deployed (to inspect them; destroy them yourself)")
    args = parser.parse_args(argv)
    tests = discover(args.tests, args.costly or args.command != "run")
    if args.command == "verify":
        return verify(tests)
    if args.command == "snapshot":
        return write_snapshots(tests)
    return run(tests, args.update_on_failed, args.keep)


if __name__ == "__main__":
    sys.exit(main())
