"""Reminders: an outbox of rows that APScheduler sweeps and delivers through the adapters.

Handlers only use `schedules.api` (plan, cancel, move); they never see APScheduler."""
