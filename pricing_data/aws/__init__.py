"""AWS account integration: live prices, held commitments and Cost Explorer recommendations.

Verbs follow pvlib: ``fetch_*`` (in :mod:`pricing_data.aws.fetch`) call AWS through an injected boto3
client; ``parse_*`` modules are pure functions over the API responses; :mod:`pricing_data.aws.refresh`
turns a refresh into a new dated catalog. Nothing talks to AWS at import time, and no purchase API is
ever called.
"""
