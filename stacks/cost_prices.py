"""The pricing half of the cost report (``stacks.cost``): the price table (``stacks/prices.yaml``) and what
the templates' usage (``stacks.cost_usage``) costs per stack and per account. Nothing here reads a template.

An unknown region or instance type raises :class:`PriceError`, naming the field, the value and what the
table knows: a resource is never priced at zero because its price is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stacks.cost_usage import HOURS_PER_MONTH, JOB_METERS, METER_UNITS, StackUsage, Usage

PRICES_FILE = Path(__file__).with_name("prices.yaml")

_SAGEMAKER_USES = {"hosting": "hosting", "processing_run": "processing", "training_run": "training", "transform_run": "transform"}
_FREE_TIER_METERS = ("alarm_metric", "dashboard")


class PriceError(ValueError):
    """The price table has no price for what a template holds."""


@dataclass(frozen=True)
class Price:
    value: float
    """Dollars per ``unit``."""
    unit: str
    page: str
    read: str
    on_aws_page: bool
    seen_in: str


@dataclass(frozen=True)
class Line:
    """One priced usage: ``monthly`` = ``billed`` x ``price.value``."""

    usage: Usage
    billed: float
    """Quantity in the price's unit (instance-hours for jobs: instance-runs x the assumed hours per run)."""
    price: Price
    monthly: float

    @property
    def always_on(self) -> bool:
        """Running whether or not anything uses the platform; scheduled jobs are not."""
        return self.usage.meter not in JOB_METERS


@dataclass(frozen=True)
class StackCost:
    usage: StackUsage
    lines: tuple[Line, ...]

    @property
    def always_on(self) -> float:
        return sum(line.monthly for line in self.lines if line.always_on)

    @property
    def scheduled(self) -> float:
        return sum(line.monthly for line in self.lines if not line.always_on)

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)


@dataclass(frozen=True)
class FreeTier:
    """What an account's free tier takes off: ``units`` of ``meter`` at ``price``."""

    meter: str
    units: float
    price: Price

    @property
    def monthly(self) -> float:
        return -self.units * self.price.value


@dataclass(frozen=True)
class AccountCost:
    account: str
    region: str
    stacks: tuple[StackCost, ...]
    free_tier: tuple[FreeTier, ...] = field(default=())

    @property
    def always_on(self) -> float:
        return sum(s.always_on for s in self.stacks) + sum(f.monthly for f in self.free_tier)

    @property
    def scheduled(self) -> float:
        return sum(s.scheduled for s in self.stacks)

    @property
    def total(self) -> float:
        return self.always_on + self.scheduled


class PriceTable:
    """``stacks/prices.yaml``, or a table of the same form (tests pass small ones)."""

    def __init__(self, data: Mapping[str, Any], *, source: str = "the price table") -> None:
        self.data, self.source = data, source
        self.regions: list[str] = list(data.get("regions") or [])
        self.assumptions: dict[str, float] = dict(data.get("assumptions") or {})
        if data.get("hours_per_month") != HOURS_PER_MONTH:
            raise PriceError(f"{source}: hours_per_month: the templates are read at {HOURS_PER_MONTH} hours a month "
                             f"(got {data.get('hours_per_month')!r})")

    @classmethod
    def load(cls, path: str | Path = PRICES_FILE) -> PriceTable:
        path = Path(path)
        try:  # named as the repository names it, where it is the repository's
            source = str(path.resolve().relative_to(PRICES_FILE.parent.parent))
        except ValueError:
            source = str(path)
        return cls(yaml.safe_load(path.read_text()), source=source)

    def check_region(self, region: str) -> None:
        if region not in self.regions:
            raise PriceError(f"region: {region!r} has no prices in {self.source}; known regions: {', '.join(self.regions)}. "
                             f"Add its prices, with the pricing page and the date read")

    def price(self, meter: str, region: str, instance_type: str | None = None) -> Price:
        """The price of one unit of ``meter`` in ``region`` (for SageMaker meters, of ``instance_type``)."""
        self.check_region(region)
        if meter in _SAGEMAKER_USES:
            use = _SAGEMAKER_USES[meter]
            sagemaker = self.data.get("sagemaker") or {}
            types = sagemaker.get(use) or {}
            by_region = types.get(instance_type)
            if by_region is None or region not in by_region:
                known = sorted(t for t, regions in types.items() if region in regions)
                raise PriceError(f"instance type: {instance_type!r} has no SageMaker {use} price for {region} in {self.source}; "
                                 f"known: {', '.join(known) or 'none'}. Add it, with the pricing page and the date read")
            entry = by_region[region]
            return Price(float(entry["price"]), f"per {use} instance-hour", sagemaker.get("page", "?"), str(sagemaker.get("read", "?")),
                         bool(entry.get("on_aws_page")), str(entry.get("seen_in", "")))
        item = (self.data.get("prices") or {}).get(meter)
        if item is None or region not in (item.get("regions") or {}):
            raise PriceError(f"{meter}: no price for {region} in {self.source}")
        entry = item["regions"][region]
        return Price(float(entry["price"]), item.get("unit", METER_UNITS[meter]), item.get("page", "?"), str(item.get("read", "?")),
                     bool(entry.get("on_aws_page")), str(entry.get("seen_in", "")))

    def hours_per_run(self, meter: str) -> float:
        """The assumed billed hours of one run of a job meter."""
        key = f"{meter.removesuffix('_run')}_minutes_per_run"
        if key not in self.assumptions:
            raise PriceError(f"assumptions: {key}: missing from {self.source}")
        return float(self.assumptions[key]) / 60

    def free_per_account(self, meter: str) -> float:
        return float(((self.data.get("prices") or {}).get(meter) or {}).get("free_per_account", 0))


def price_stack(usage: StackUsage, table: PriceTable) -> StackCost:
    """Every usage of one stack, priced in its region."""
    lines = []
    for item in usage.usages:
        try:
            price = table.price(item.meter, usage.region, item.instance_type)
        except PriceError as err:
            raise PriceError(f"{usage.path} {item.resource}: {err}") from None
        billed = item.quantity * table.hours_per_run(item.meter) if item.meter in JOB_METERS else item.quantity
        lines.append(Line(item, billed, price, billed * price.value))
    return StackCost(usage, tuple(lines))


def price_accounts(stacks: Iterable[StackUsage], table: PriceTable) -> list[AccountCost]:
    """Stacks priced and grouped by account (in the order accounts first appear), each account with the
    CloudWatch free tier (alarm metrics, dashboards) taken off its always-on cost. The free tier is per
    account: an account's stacks in several regions share it, and it is taken at the account's first region's price."""
    by_account: dict[str, list[StackCost]] = {}
    for stack in stacks:
        by_account.setdefault(stack.account, []).append(price_stack(stack, table))
    accounts = []
    for account, costs in by_account.items():
        region = costs[0].usage.region
        free = []
        for meter in _FREE_TIER_METERS:
            used = sum(line.usage.quantity for cost in costs for line in cost.lines if line.usage.meter == meter)
            allowance = table.free_per_account(meter)
            if used and allowance:
                free.append(FreeTier(meter, min(used, allowance), table.price(meter, region)))
        accounts.append(AccountCost(account, region, tuple(costs), tuple(free)))
    return accounts
