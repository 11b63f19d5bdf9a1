"""A throw-away certificate authority and server certificate for serving the sandbox over TLS.

``simple-salesforce`` always builds ``https://`` URLs, so the sandbox must speak TLS. A
separate CA (rather than one self-signed leaf) keeps strict X.509 verification (Python
3.13's default) happy: clients trust ``cafile`` and the server presents ``certfile``.
"""

from __future__ import annotations

import atexit
import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    certfile: str  # server certificate (PEM), for ServerThread(ssl_certfile=…)
    keyfile: str  # server private key (PEM)
    cafile: str  # the CA to trust: requests' ``session.verify`` / httpx's ``verify``


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_certificates(directory: str | None = None, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Write a CA and a server certificate for ``hosts`` into ``directory`` (by default a new temp dir,
    removed when the process exits: it holds a private key, and every sandbox start makes one)."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix="accord-sf-tls-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    out = Path(directory)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Accord sandbox CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0])).issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (out / "ca.pem").write_bytes(ca.public_bytes(pem))
    (out / "cert.pem").write_bytes(cert.public_bytes(pem))
    (out / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return TlsFiles(str(out / "cert.pem"), str(out / "key.pem"), str(out / "ca.pem"))


@dataclass(frozen=True)
class JwtKeys:
    """A connected app's JWT bearer key pair: the server keeps ``private_key``, the app the
    ``certificate`` (Setup › App Manager › the app › Use digital signatures)."""

    private_key: str  # PEM (PKCS#8)
    certificate: str  # PEM, self-signed


def make_jwt_keys(cn: str = "accord-jwt") -> JwtKeys:
    """A fresh RSA key and its self-signed certificate, as `openssl req -x509 -newkey rsa:2048` makes them."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return JwtKeys(pem, cert.public_bytes(serialization.Encoding.PEM).decode())


def public_key_of(pem: str) -> Any:
    """The public key of a PEM certificate or public key (what verifies a JWT assertion)."""
    if "CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem.encode()).public_key()
    return serialization.load_pem_public_key(pem.encode())
