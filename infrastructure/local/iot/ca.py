"""A certificate authority for the local stack, standing in for AWS IoT's.

In AWS, IoT Core issues each device an X.509 certificate and key
(CreateKeysAndCertificate), signed by an Amazon CA, and the device verifies
the broker with Amazon Root CA 1. Locally one `LocalCA` plays both parts:

* it signs the local broker's server certificate (SANs localhost and
  127.0.0.1), so a device or the AWS IoT Device SDK can verify the broker
  with `ca_pem` the same way it verifies IoT Core with Amazon Root CA 1;
* it issues device certificates (CN = thing name, clientAuth), which the
  broker requires for mutual TLS, like IoT Core's X.509 client
  authentication.

The CA key and certificate are written to `directory` (keys with mode 0600)
and reloaded when present, so devices provisioned in one run still verify in
the next run that reuses the directory.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "GridPulse Local CA"
CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=365)
CLOCK_SKEW = datetime.timedelta(minutes=5)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write_private(path: pathlib.Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_id(cert_pem: str | bytes) -> str:
    """What AWS IoT calls the certificate id: the SHA-256 of the DER certificate, in hex."""
    data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    der = x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def common_name(cert: x509.Certificate | str | bytes) -> str | None:
    """The subject CN of a certificate (object or PEM), or None when it has none."""
    if not isinstance(cert, x509.Certificate):
        cert = x509.load_pem_x509_certificate(cert.encode() if isinstance(cert, str) else cert)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


class LocalCA:
    """A CA key and self-signed certificate kept in `directory`.

    Files: ca.pem, ca.key (created on first use, reloaded afterwards), and
    server.pem, server.key (written by `server_credentials`).
    """

    def __init__(self, directory: pathlib.Path):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert_path = self.directory / "ca.pem"
        self.key_path = self.directory / "ca.key"
        if self.cert_path.exists() and self.key_path.exists():
            self._key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            self._cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        else:
            self._key, self._cert = self._create()
            _write_private(self.key_path, _key_pem(self._key))
            self.cert_path.write_bytes(_cert_pem(self._cert))

    @staticmethod
    def _create():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GridPulse"),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    # ------------------------------------------------------------ CA

    @property
    def ca_pem(self) -> str:
        """The CA certificate (PEM): what a device trusts instead of Amazon Root CA 1."""
        return _cert_pem(self._cert).decode()

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    def _leaf(self, subject: x509.Name, public_key, usage: x509.KeyUsage, eku, sans=None) -> x509.Certificate:
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + LEAF_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self._key, hashes.SHA256())

    # ------------------------------------------------------------ server

    def server_credentials(self, hosts=("localhost", "127.0.0.1")) -> tuple[pathlib.Path, pathlib.Path]:
        """Issue a TLS server certificate for `hosts` (DNS names or IP addresses);
        returns (cert_path, key_path) of server.pem / server.key in the directory."""
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        key = ec.generate_private_key(ec.SECP256R1())
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        cert = self._leaf(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(hosts[0]))]),
            key.public_key(),
            usage,
            ExtendedKeyUsageOID.SERVER_AUTH,
            sans,
        )
        cert_path, key_path = self.directory / "server.pem", self.directory / "server.key"
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(_cert_pem(cert))
        return cert_path, key_path

    # ------------------------------------------------------------ devices

    def issue_device_certificate(self, thing_name: str) -> tuple[str, str]:
        """A client certificate for a thing: (certificate PEM, PKCS#8 private key PEM).

        Like IoT Core's CreateKeysAndCertificate the key is RSA 2048; the subject CN
        is the thing name, which is how the local broker knows the thing.
        Nothing is written to disk: like IoT Core, the key is handed out once.
        """
        if not thing_name:
            raise ValueError("thing_name is required")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=True,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        cert = self._leaf(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing_name)]),
            key.public_key(),
            usage,
            ExtendedKeyUsageOID.CLIENT_AUTH,
        )
        return _cert_pem(cert).decode(), _key_pem(key).decode()
