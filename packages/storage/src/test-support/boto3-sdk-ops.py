"""The S3 calls the Qarnot Python SDK makes (qarnot-rest-api.md §1.5), through boto3, against an endpoint.
Prints one line per check; exits non-zero on the first failure."""
import hashlib, io, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import Config
from botocore.exceptions import ClientError

endpoint, key, secret, other_key, other_secret, bucket = sys.argv[1:7]
cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.resource("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1", config=cfg)
cli = s3.meta.client
other = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=other_key, aws_secret_access_key=other_secret, region_name="us-east-1", config=cfg)
MiB = 1024 * 1024
transfer = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=10, num_download_attempts=10)

def check(name, cond):
    if not cond:
        print("FAIL", name, flush=True)
        sys.exit(1)
    print("ok", name, flush=True)

def aws_etag(data, part=8 * MiB):
    if len(data) < part:
        return '"%s"' % hashlib.md5(data).hexdigest()
    digests = [hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part)]
    return '"%s-%d"' % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests))

b = s3.Bucket(bucket)
cli.create_bucket(Bucket=bucket)
cli.create_bucket(Bucket=bucket)  # Bucket(conn, name, create=True) does this every time
check("create_bucket twice", True)
check("list_buckets", bucket in [x.name for x in s3.buckets.all()])
cli.head_bucket(Bucket=bucket)
check("head_bucket", True)
try:
    cli.head_bucket(Bucket=bucket + "-missing")
    check("head_bucket missing raises", False)
except ClientError as e:
    check("head_bucket missing raises 404", e.response["Error"]["Code"] in ("404", "NoSuchBucket"))
try:
    other.get_object(Bucket=bucket, Key="x")
    check("other user denied", False)
except ClientError as e:
    check("other user denied", e.response["Error"]["Code"] == "AccessDenied")

small = b"small file body"
big = os.urandom(20 * MiB + 12345)
b.upload_fileobj(io.BytesIO(small), "dir/small.txt", Config=transfer)
b.upload_fileobj(io.BytesIO(big), "dir/big.bin", Config=transfer)
objs = {o.key: o.e_tag for o in b.objects.all()}
check("objects.all lists both", set(objs) == {"dir/small.txt", "dir/big.bin"})
check("single PUT ETag is the MD5", objs["dir/small.txt"] == aws_etag(small))
check("multipart ETag matches the SDK's local computation (sync)", objs["dir/big.bin"] == aws_etag(big))
check("objects.filter(Prefix)", [o.key for o in b.objects.filter(Prefix="dir/s")] == ["dir/small.txt"])
out = io.BytesIO()
b.download_fileobj("dir/big.bin", out, Config=transfer)
check("download_fileobj", out.getvalue() == big)
check("get_object", cli.get_object(Bucket=bucket, Key="dir/small.txt")["Body"].read() == small)
b.copy({"Bucket": bucket, "Key": "dir/big.bin"}, "renamed/big.bin")
cli.copy_object(Bucket=bucket, Key="renamed/small.txt", CopySource={"Bucket": bucket, "Key": "dir/small.txt"})
after = {o.key: o.e_tag for o in b.objects.all()}
check("copy keeps the ETag (rename detection)", after.get("renamed/big.bin") == objs["dir/big.bin"] and after.get("renamed/small.txt") == objs["dir/small.txt"])
cli.delete_object(Bucket=bucket, Key="renamed/small.txt")
check("delete_object", "renamed/small.txt" not in [o.key for o in b.objects.all()])
# Bucket.delete(): versioning status, then ListObjectVersions + DeleteObjects with VersionId, then DeleteBucket.
status = b.Versioning().status
check("never-versioned bucket reports no status", status is None)
versions = cli.list_object_versions(Bucket=bucket).get("Versions", [])
res = cli.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]})
check("delete_objects with VersionId null", len(res.get("Deleted", [])) == 3 and not res.get("Errors"))
b.delete()
try:
    cli.head_bucket(Bucket=bucket)
    check("bucket deleted", False)
except ClientError:
    check("bucket deleted", True)
print("ALL OK")
