"""The vendors a connector may be made for, by name."""

from __future__ import annotations

from app.connectors.vendors.base import TakesWebhooks, Vendor
from app.connectors.vendors.hubspot import HubSpot
from app.connectors.vendors.jira import Jira
from app.connectors.vendors.linear import Linear
from app.connectors.vendors.salesforce import Salesforce
from app.connectors.vendors.zendesk import Zendesk
from app.errors import InvalidInput

VENDORS: dict[str, Vendor] = {
    vendor.name: vendor for vendor in (HubSpot(), Salesforce(), Zendesk(), Jira(), Linear())
}
# What each vendor needs besides a base URL and a token (Credentials.extra), for the CLI and API.
EXTRA_NEEDED: dict[str, tuple[str, ...]] = {"zendesk": ("email",), "jira": ("email",)}


def vendor_named(name: str) -> Vendor:
    found = VENDORS.get(name.strip().lower())
    if found is None:
        raise InvalidInput(f"unknown connector {name!r}; one of: {', '.join(VENDORS)}")
    return found


def webhook_reader(vendor: Vendor) -> TakesWebhooks | None:
    """The vendor's webhook side, if we receive its webhooks."""
    if hasattr(vendor, "verify") and hasattr(vendor, "read"):
        return vendor  # type: ignore[return-value]
    return None
