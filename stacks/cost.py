"""What the platform costs while nobody uses it: the always-on monthly floor per stack and per account,
read from the synthesized templates and priced with ``stacks/prices.yaml``.

    python -m stacks.cost --config config/default.yaml      # synthesizes that config in process (make cost)
    python -m stacks.cost --assembly cdk.out                 # reads an assembly `make synth` wrote
    python -m stacks.cost --assembly cdk.out --config config/default.yaml   # the same, accounts named by role

The template half is ``stacks.cost_usage`` (what runs, in billable units), the pricing half
``stacks.cost_prices`` (the table, the free tier, the sums); this module synthesizes and prints. What the
report counts, assumes and leaves out is printed with it and described in docs/cost.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from stacks.cost_prices import PRICES_FILE, AccountCost, Line, PriceError, PriceTable, StackCost, price_accounts
from stacks.cost_usage import HOURS_PER_MONTH, JOB_METERS, METER_UNITS, REFERENCE_YEAR, TemplateError, assembly_usage

REPO = Path(__file__).resolve().parent.parent

_ITEM_NAMES = {
    "interface_endpoint": "interface endpoints",
    "kms_key": "KMS keys",
    "alarm_metric": "CloudWatch alarm metrics",
    "high_resolution_alarm_metric": "CloudWatch high resolution alarm metrics",
    "composite_alarm": "CloudWatch composite alarms",
    "dashboard": "CloudWatch dashboards",
}

EXCLUSIONS = (
    "Usage-priced services, at any volume: requests to endpoints, serverless inference, Lambda, Step Functions "
    "transitions, EventBridge and Scheduler invocations, SQS, SNS, KMS requests, CodePipeline (V2: per action "
    "minute) and CodeBuild minutes, CloudWatch metrics and API calls.",
    "Storage and logs that grow: S3 (artifacts, captured requests, drift reports, access logs), ECR images, "
    "CloudWatch Logs ingestion and retention, VPC flow logs, endpoint and job volumes (EBS).",
    "Data processing and transfer: interface endpoint GB processed, cross-zone and cross-account transfer.",
    "Training started by new data or a drift alarm, batch runs started by new data (and their drift checks), and "
    "any run beyond the schedules.",
    "The doubled fleet during a canary or blue/green deployment (the old and the new variant run together "
    "until the deployment ends), and scaling out under load.",
    "KMS key rotation beyond the first year, taxes, support plans, savings plans and credits.",
)


def synthesize(config_path: str, outdir: str) -> None:
    """Synthesize every stage of ``config_path`` into ``outdir`` as ``cdk synth`` does (cdk.json's context),
    without CloudFormation Guard and CDK's template validation: they check, they add no resource."""
    from app_settings import new_bare_app
    from mlops_constructs.config import load_config
    from stacks import build_platform

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    app = new_bare_app(outdir=outdir, context=context)
    build_platform(app, load_config(config_path), config_path=config_path, validate=False)
    app.synth()


def account_roles(config_path: str | None) -> dict[str, str]:
    """Account id -> its role in the config (``tooling``, ``dev``, ``staging``, ``prod``)."""
    if config_path is None:
        return {}
    from mlops_constructs.config import load_config

    accounts = load_config(config_path).accounts
    return {getattr(accounts, role): role for role in ("tooling", "dev", "staging", "prod") if getattr(accounts, role, None)}


# --- the report ---------------------------------------------------------------------------------------


def money(value: float) -> str:
    return f"{value:,.2f}"


def _price_text(line: Line) -> str:
    return f"{line.price.value:g}{'' if line.price.on_aws_page else '?'}"


def _grouped(cost: StackCost) -> list[tuple[str, str, str, float]]:
    """(item, quantity, unit price, monthly) rows of one stack: one row per kind of always-on resource, one
    per endpoint variant and per scheduled job."""
    rows: list[tuple[str, str, str, float]] = []
    groups: dict[str, list[Line]] = {}
    for line in cost.lines:
        if line.usage.meter in _ITEM_NAMES:
            groups.setdefault(line.usage.meter, []).append(line)
            continue
        unit = METER_UNITS[line.usage.meter]
        if line.usage.meter in JOB_METERS:
            bound = f", at most {line.usage.max_hours:g} h" if line.usage.max_hours else ""
            item = f"{line.usage.detail} (assumed {line.billed / line.usage.quantity * 60:g} min a run{bound})"
            quantity = f"{line.billed:,.1f} instance-hours"
        else:
            item = f"endpoint {line.usage.detail}"
            quantity = f"{line.billed:,.1f} {unit}"
        rows.append((item, quantity, _price_text(line), line.monthly))
    grouped: list[tuple[str, str, str, float]] = []
    for meter, lines in groups.items():
        count = len(lines)
        if meter == "interface_endpoint":
            services = ", ".join(str(line.usage.service) for line in lines)
            zones = "/".join(str(z) for z in sorted({line.usage.zones for line in lines if line.usage.zones}))
            item = f"{_ITEM_NAMES[meter]} ({count}) in {zones} zones: {services}"
        elif meter in ("alarm_metric", "high_resolution_alarm_metric"):
            outside = sorted({str(line.usage.created_by) for line in lines if line.usage.created_by})
            created = sum(1 for line in lines if line.usage.created_by)
            by = f", {created} by {' and '.join(outside)}" if created else ""  # made outside the template
            item = f"{_ITEM_NAMES[meter]} ({count} alarm{'s' if count > 1 else ''}{by})"
        else:
            item = f"{_ITEM_NAMES[meter]} ({count})"
        quantity = sum(line.billed for line in lines)
        prices = {_price_text(line) for line in lines}
        grouped.append((item, f"{quantity:,.0f} {METER_UNITS[meter]}", "/".join(sorted(prices)), sum(line.monthly for line in lines)))
    return grouped + rows


def render(accounts: Sequence[AccountCost], table: PriceTable, *, title: str, roles: Mapping[str, str] | None = None,
           width: int = 118) -> str:
    roles = roles or {}
    out: list[str] = []
    regions = sorted({a.region for a in accounts})
    out.append(f"Monthly cost floor of {title} ({', '.join(regions)}): US dollars, {HOURS_PER_MONTH} hours a month, on-demand prices")
    out.append(f"Prices: {_relative(table.source)}; '?' marks a price not read on AWS's pricing page (see that file and docs/cost.md)")
    out.append("")
    item_width = width - 46
    for account in accounts:
        role = roles.get(account.account)
        out.append(f"Account {account.account}{f' ({role})' if role else ''}, {account.region}")
        for cost in account.stacks:
            out.append(f"  {cost.usage.path} ({cost.usage.stack_name})")
            rows = _grouped(cost)
            if not rows:
                out.append("    nothing that costs money while idle")
            for item, quantity, price, monthly in rows:
                wrapped = _wrap(item, item_width)
                out.append(f"    {wrapped[0]:<{item_width}} {quantity:>24} x {price:>7} = {money(monthly):>9}")
                out.extend(f"      {more}" for more in wrapped[1:])
        for free in account.free_tier:
            label = f"CloudWatch free tier of the account: {free.units:g} {_ITEM_NAMES[free.meter]}"
            out.append(f"  {label:<{item_width + 2}} {'':>24}   {'':>7} = {money(free.monthly):>9}")
        out.append("")
    out.append(_summary(accounts, roles))
    out.append("")
    out.append("Assumptions")
    assumptions = (
        "Idle: an endpoint variant with a scaling policy runs its minimum capacity; scheduled scaling is weighted by the "
        f"time each capacity is in force (replayed over {REFERENCE_YEAR}, UTC). Serverless variants cost nothing idle.",
        f"Schedules are counted over {REFERENCE_YEAR} and divided by 12. Each scheduled run starts every SageMaker job of "
        f"its state machine once, billed for {_assumed(table)} (a template cannot say; the job's stopping condition is "
        "the most a run may be billed), and those of the state machines it starts: a scheduled batch run's drift check. "
        "The drift check starts no job for a window with no captured requests: an endpoint without traffic costs only "
        "its schedule's few state transitions.",
        "CloudWatch alarms include the two Application Auto Scaling creates for each target tracking policy, outside "
        "the templates. Free tier: per account, taken off once (10 alarm metrics, 3 dashboards).",
        "KMS keys at $1 a month: the first year of a rotating key (each rotation adds $1 a month, at most two, "
        "per a summary of AWS's 2024 change).",
    )
    out.extend(_bullet(text, width) for text in assumptions)
    out.append("Left out")
    out.extend(_bullet(text, width) for text in EXCLUSIONS)
    unconfirmed = sorted({(line.usage.meter, line.usage.instance_type or "", a.region, line.price.seen_in)
                          for a in accounts for s in a.stacks for line in s.lines if not line.price.on_aws_page})
    if unconfirmed:
        out.append("Prices marked '?' (not read on AWS's pricing page; where each figure comes from):")
        for meter, instance_type, region, seen_in in unconfirmed:
            what = f"{meter}{f' {instance_type}' if instance_type else ''} ({region})"
            out.append(_bullet(f"{what}: {seen_in}", width))
    return "\n".join(out)


def _assumed(table: PriceTable) -> str:
    return ", ".join(f"{table.hours_per_run(m) * 60:g} min a {m.removesuffix('_run')} run" for m in JOB_METERS)


def _summary(accounts: Sequence[AccountCost], roles: Mapping[str, str]) -> str:
    rows = [f"{'Summary':<58} {'always-on':>12} {'scheduled jobs':>15} {'total':>12}"]
    for account in accounts:
        role = roles.get(account.account)
        label = f"{account.account}{f' {role}' if role else ''}"
        for cost in account.stacks:
            amounts = f"{money(cost.always_on):>12} {money(cost.scheduled):>15} {money(cost.total):>12}"
            rows.append(f"  {label:<22} {cost.usage.path:<33} {amounts}")
        free = sum(f.monthly for f in account.free_tier)
        if free:
            rows.append(f"  {label:<22} {'CloudWatch free tier':<33} {money(free):>12} {'':>15} {money(free):>12}")
        rows.append(f"  {'account ' + label:<56} {money(account.always_on):>12} {money(account.scheduled):>15} {money(account.total):>12}")
    always, scheduled = sum(a.always_on for a in accounts), sum(a.scheduled for a in accounts)
    rows.append(f"{f'All {len(accounts)} accounts':<58} {money(always):>12} {money(scheduled):>15} {money(always + scheduled):>12}")
    return "\n".join(rows)


def _bullet(text: str, width: int) -> str:
    return "  - " + "\n    ".join(_wrap(text, width - 4))


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return path


def _wrap(text: str, width: int) -> list[str]:
    words, lines, current = text.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current]


# --- command line ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.cost", description=(
        "Print the platform's always-on monthly cost floor per account and stack, from its synthesized templates."))
    parser.add_argument("--config", help="the platform config; synthesized in process unless --assembly is given "
                        "(then it only names the accounts). Default: config/default.yaml")
    parser.add_argument("--assembly", help="read this cloud assembly (e.g. cdk.out from `make synth`) instead of synthesizing")
    parser.add_argument("--prices", default=str(PRICES_FILE), help=f"the price table. Default: {PRICES_FILE.relative_to(REPO)}")
    args = parser.parse_args(argv)
    from mlops_constructs.config import ConfigError
    from mlops_constructs.errors import PropsError

    try:
        table = PriceTable.load(args.prices)
        if args.assembly:
            stacks, title = assembly_usage(args.assembly), args.assembly
            roles = account_roles(args.config)
        else:
            config = args.config or "config/default.yaml"
            with tempfile.TemporaryDirectory(prefix="cost-") as outdir:
                synthesize(config, outdir)
                stacks = assembly_usage(outdir)
            title, roles = config, account_roles(config)
        print(render(price_accounts(stacks, table), table, title=title, roles=roles))
    except (PriceError, TemplateError, ConfigError, PropsError, OSError) as err:
        print(f"cost report: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
