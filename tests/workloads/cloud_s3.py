"""A cloud-SDK app's smoke test without a network, as a workload for `venvslim slim --run`:
a boto3 S3 client (service model and endpoint rules loaded from botocore/data, request
serialised and signed, the answer parsed) with one put_object and one list_objects_v2 answered
by botocore.stub.Stubber; a google-cloud-storage anonymous client building a blob's URL; and
cryptography's Fernet round trip and an Ed25519 signature (its Rust extension, which loads
cffi's _cffi_backend).
Exits non-zero if anything is off."""

import datetime
import os

# No shared config or credentials file of the machine may change the answers.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

import boto3  # noqa: E402
from botocore.stub import Stubber  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from google.cloud import storage  # noqa: E402

s3 = boto3.session.Session().client(
    "s3",
    region_name="us-east-1",
    endpoint_url="http://127.0.0.1:9",
    aws_access_key_id="AKIDWORKLOAD",
    aws_secret_access_key="workload-secret",
)
when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
with Stubber(s3) as stub:
    stub.add_response(
        "put_object",
        {"ETag": '"9a0364b9e99bb480dd25e1f0284c8555"'},
        {"Bucket": "workload", "Key": "a/hello.txt", "Body": b"hello"},
    )
    stub.add_response(
        "list_objects_v2",
        {
            "IsTruncated": False,
            "KeyCount": 1,
            "Contents": [{"Key": "a/hello.txt", "Size": 5, "LastModified": when}],
        },
        {"Bucket": "workload", "Prefix": "a/"},
    )
    put = s3.put_object(Bucket="workload", Key="a/hello.txt", Body=b"hello")
    assert put["ETag"] == '"9a0364b9e99bb480dd25e1f0284c8555"', put
    listed = s3.list_objects_v2(Bucket="workload", Prefix="a/")
    assert [(o["Key"], o["Size"], o["LastModified"]) for o in listed["Contents"]] == [
        ("a/hello.txt", 5, when)
    ], listed
    stub.assert_no_pending_responses()
assert s3.meta.endpoint_url == "http://127.0.0.1:9", s3.meta.endpoint_url

gcs = storage.Client.create_anonymous_client()
blob = gcs.bucket("workload").blob("a/hello world.txt")
assert blob.public_url == "https://storage.googleapis.com/workload/a/hello%20world.txt", blob.public_url
assert blob.path == "/b/workload/o/a%2Fhello%20world.txt", blob.path

fernet = Fernet(Fernet.generate_key())
assert fernet.decrypt(fernet.encrypt(b"hello")) == b"hello"
key = Ed25519PrivateKey.generate()
key.public_key().verify(key.sign(b"hello"), b"hello")  # raises InvalidSignature if off
print("ok")
