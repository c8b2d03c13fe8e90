"""Fixtures this layer's webhook tests share: a real local receiver, and the example OKRs sending to it."""

from tests.fakes.webhook_receiver import hooked, receiver  # noqa: F401 - fixtures, found by pytest by name
