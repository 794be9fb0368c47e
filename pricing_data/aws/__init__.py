"""AWS account integration, one module per AWS API family (as pvlib's iotools group by source):

- :mod:`~pricing_data.aws.client` — boto3 sessions and clients, retries with backoff, pagination,
  errors that name the API and the IAM permission;
- :mod:`~pricing_data.aws.pricing` — Price List API: on-demand and RI prices;
- :mod:`~pricing_data.aws.ec2` — EC2: spot price history, instance types (GPU counts), RIs held;
- :mod:`~pricing_data.aws.savingsplans` — Savings Plans: published rates, plans held;
- :mod:`~pricing_data.aws.ce` — Cost Explorer: purchase recommendations;
- :mod:`~pricing_data.aws.refresh` — a refresh of the AWS prices into a new dated catalog.

In each family ``fetch_*`` functions call AWS through an injected client and ``parse_*`` functions are
pure. Nothing talks to AWS at import time, and no purchase API is ever called. The held commitments
and Cost Explorer's recommendation become planner commitments in :mod:`planner.aws`.
"""
