"""Give a fresh moto_server what the environments expect to find rather than create: the shared
Route53 zone and an issued wildcard certificate in ACM (the seeds request and validate it once,
by hand). Usage: moto_fixture.py ENDPOINT ZONE_NAME REGION"""

import datetime
import sys

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(domain: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def main() -> None:
    endpoint, zone, region = sys.argv[1:4]
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=region
    )
    route53 = session.client("route53", endpoint_url=endpoint)
    route53.create_hosted_zone(Name=zone, CallerReference=f"conveyor-ci-{zone}")
    cert, key = self_signed(f"*.{zone}")
    acm = session.client("acm", endpoint_url=endpoint)
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    print(f"moto: hosted zone {zone}, certificate *.{zone} {arn}")


if __name__ == "__main__":
    main()
