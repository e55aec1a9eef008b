"""The CRM sandbox: wire-compatible fake Salesforce and HubSpot servers and a seeded sales org."""
