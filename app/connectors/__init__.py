"""Connectors: our accounts and tickets kept in step with a CRM (HubSpot, Salesforce), a
helpdesk of record (Zendesk) and issue trackers (Jira, Linear), through the outbox."""
