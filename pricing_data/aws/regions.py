"""AWS regions, one table: the region code, its location name (Cost Explorer, the Price List) and
its usage-type prefix (CUR ``lineItem/UsageType``: ``USE1-BoxUsage:p5.48xlarge``).

Cost Explorer and older exports write European regions both as "EU (Ireland)" and "Europe
(Ireland)"; :data:`LOCATION_CODES` holds both. The usage-type prefix ``EU`` (old exports) means
eu-west-1.
"""

from __future__ import annotations

#: code -> (location name, usage-type prefix or "" where none is in use)
REGIONS: dict[str, tuple[str, str]] = {
    "us-east-1": ("US East (N. Virginia)", "USE1"),
    "us-east-2": ("US East (Ohio)", "USE2"),
    "us-west-1": ("US West (N. California)", "USW1"),
    "us-west-2": ("US West (Oregon)", "USW2"),
    "us-gov-west-1": ("AWS GovCloud (US-West)", "UGW1"),
    "ca-central-1": ("Canada (Central)", "CAN1"),
    "eu-west-1": ("Europe (Ireland)", "EUW1"),
    "eu-west-2": ("Europe (London)", "EUW2"),
    "eu-west-3": ("Europe (Paris)", "EUW3"),
    "eu-central-1": ("Europe (Frankfurt)", "EUC1"),
    "eu-central-2": ("Europe (Zurich)", ""),
    "eu-north-1": ("Europe (Stockholm)", "EUN1"),
    "eu-south-1": ("Europe (Milan)", ""),
    "eu-south-2": ("Europe (Spain)", ""),
    "ap-northeast-1": ("Asia Pacific (Tokyo)", "APN1"),
    "ap-northeast-2": ("Asia Pacific (Seoul)", "APN2"),
    "ap-northeast-3": ("Asia Pacific (Osaka)", "APN3"),
    "ap-southeast-1": ("Asia Pacific (Singapore)", "APS1"),
    "ap-southeast-2": ("Asia Pacific (Sydney)", "APS2"),
    "ap-southeast-3": ("Asia Pacific (Jakarta)", ""),
    "ap-south-1": ("Asia Pacific (Mumbai)", "APS3"),
    "ap-south-2": ("Asia Pacific (Hyderabad)", ""),
    "ap-east-1": ("Asia Pacific (Hong Kong)", ""),
    "sa-east-1": ("South America (Sao Paulo)", "SAE1"),
    "me-south-1": ("Middle East (Bahrain)", ""),
    "me-central-1": ("Middle East (UAE)", ""),
    "af-south-1": ("Africa (Cape Town)", ""),
    "il-central-1": ("Israel (Tel Aviv)", ""),
}

#: location name -> code ("EU (Ireland)" and "Europe (Ireland)" alike)
LOCATION_CODES: dict[str, str] = {
    **{name: code for code, (name, _) in REGIONS.items()},
    **{
        "EU " + name.removeprefix("Europe "): code
        for code, (name, _) in REGIONS.items()
        if name.startswith("Europe (")
    },
}

#: usage-type prefix -> code
USAGE_PREFIX_CODES: dict[str, str] = {
    **{prefix: code for code, (_, prefix) in REGIONS.items() if prefix},
    "EU": "eu-west-1",
}


def region_code(name: str) -> str:
    """``us-east-1`` for "US East (N. Virginia)"; codes (and unknown names) pass through."""
    name = (name or "").strip()
    return LOCATION_CODES.get(name, name)
