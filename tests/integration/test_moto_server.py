"""The moto fixture is a real Kinesis API: records put with boto3 are read back in order."""

from __future__ import annotations

import pytest

from tests.support.moto_server import (
    MotoServer,
    create_role,
    create_stream,
    kinesis_client,
    read_records,
    sts_client,
)

pytestmark = pytest.mark.integration


def test_put_records_are_read_back(moto: MotoServer, unique: str) -> None:
    arn = create_stream(moto.url, f"test-{unique}")
    assert arn.startswith("arn:aws:kinesis:us-east-1:") and arn.endswith(f":stream/test-{unique}")
    records = [(f"key-{n}", f"event {n}".encode()) for n in range(3)]

    reply = kinesis_client(moto.url).put_records(
        StreamARN=arn, Records=[{"PartitionKey": key, "Data": data} for key, data in records]
    )

    assert reply["FailedRecordCount"] == 0
    assert read_records(moto.url, arn) == records


def test_streams_in_other_regions_and_shards(moto: MotoServer, unique: str) -> None:
    arn = create_stream(moto.url, f"test-{unique}", shards=4, region="eu-west-2")
    assert ":eu-west-2:" in arn
    client = kinesis_client(moto.url, "eu-west-2")
    keys = [f"key-{n}" for n in range(40)]
    client.put_records(StreamARN=arn, Records=[{"PartitionKey": key, "Data": key.encode()} for key in keys])

    found = read_records(moto.url, arn)

    assert sorted(found) == sorted((key, key.encode()) for key in keys)


def test_role_can_be_assumed_with_its_external_id(moto: MotoServer, unique: str) -> None:
    role = create_role(moto.url, f"external-{unique}")

    credentials = sts_client(moto.url).assume_role(
        RoleArn=role, RoleSessionName="eventstreams", ExternalId=f"external-{unique}"
    )["Credentials"]

    assert credentials["AccessKeyId"] and credentials["SessionToken"]
