"""Delivering the outboxes an evaluation fills: CRM writes now, webhook events next."""
