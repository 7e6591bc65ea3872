"""What the AWS sinks share: one pool of boto3 clients per driver, the tenant's role assumed
with the account's ExternalId (credentials renewed before they expire), and botocore's
failures as delivery errors."""
