"""Durations, one object per value: a ``Duration`` is an immutable value, and creating one is a round
trip to jsii's Node process, so a synth with many alarms, retries and timeouts shares them."""

from __future__ import annotations

import functools

from aws_cdk import Duration


@functools.cache
def seconds(amount: int) -> Duration:
    return Duration.seconds(amount)


@functools.cache
def minutes(amount: int) -> Duration:
    return Duration.minutes(amount)


@functools.cache
def hours(amount: int) -> Duration:
    return Duration.hours(amount)


@functools.cache
def days(amount: int) -> Duration:
    return Duration.days(amount)
