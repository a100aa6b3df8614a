#!/usr/bin/env python3
"""Writes the corpus of rejected uploads under crates/certkeeper-api/tests/corpus/upload.

Each case is a directory holding `certificate` (the CertificatePublicKey bytes), and when the
case needs them `key`, `password` and `type`, plus `expected`: the error code on the first line
and a phrase the message must contain on the second. The test
`cargo test -p certkeeper-api --test upload_corpus` sends every case and checks both, and that
nothing was stored. The certificates come from a throwaway test PKI made with `openssl` and are
valid for 100 years, so the corpus does not age. Run it again only to add cases; existing
cases keep their bytes unless their directory is removed first.
"""

import base64
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/certkeeper-api/tests/corpus/upload")


def openssl(work, *args, stdin=None):
    result = subprocess.run(["openssl", *args], cwd=work, input=stdin, capture_output=True)
    if result.returncode != 0:
        sys.exit(f"openssl {' '.join(args)} failed:\n{result.stderr.decode()}")
    return result.stdout


def read(work, name):
    with open(os.path.join(work, name), "rb") as handle:
        return handle.read()


def write(work, name, data):
    with open(os.path.join(work, name), "wb") as handle:
        handle.write(data if isinstance(data, bytes) else data.encode())


def make_pki(work):
    """A root, an intermediate and leaves for the cases that need real certificates."""
    write(work, "ca.cnf", "[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\n"
          "keyUsage=critical,keyCertSign,cRLSign\n")
    write(work, "int.ext", "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
    openssl(work, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "root.key")
    openssl(work, "req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=Corpus Root", "-days", "36500",
            "-config", "ca.cnf", "-extensions", "v3", "-out", "root.pem")
    openssl(work, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "int.key")
    openssl(work, "req", "-new", "-key", "int.key", "-subj", "/CN=Corpus Intermediate", "-out", "int.csr")
    openssl(work, "x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "7",
            "-days", "36500", "-extfile", "int.ext", "-out", "int.pem")
    write(work, "ca.conf", "[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n"
          "default_md=sha256\ndefault_crl_days=36500\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n")
    write(work, "index.txt", "")
    write(work, "serial", "1000\n")
    leaf(work, "ec", ["www.example.test", "api.example.test"], ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
    leaf(work, "rsa", ["rsa.example.test"], ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
    leaf(work, "weak", ["weak.example.test"], ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"])
    leaf(work, "p521", ["p521.example.test"], ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"])
    leaf(work, "old", ["old.example.test"], ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
         dates=("200101000000Z", "210101000000Z"))
    leaf(work, "nameless", [], ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], subject="/CN=My Web Server")
    openssl(work, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key")
    openssl(work, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "sm2.key")
    openssl(work, "req", "-x509", "-new", "-key", "sm2.key", "-sm3", "-sigopt", "distid:1234567812345678",
            "-subj", "/CN=sm2.example.test", "-days", "36500", "-out", "sm2.pem")


def leaf(work, stem, names, keyopts, dates=None, subject=None):
    openssl(work, "genpkey", *keyopts, "-out", f"{stem}.key")
    subject = subject or f"/CN={names[0]}"
    openssl(work, "req", "-new", "-key", f"{stem}.key", "-subj", subject, "-out", f"{stem}.csr")
    lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=serverAuth"]
    if names:
        lines.append("subjectAltName=" + ",".join(f"DNS:{name}" for name in names))
    write(work, f"{stem}.ext", "\n".join(lines) + "\n")
    start, end = dates or ("250101000000Z", "491231000000Z")
    openssl(work, "ca", "-batch", "-notext", "-config", "ca.conf", "-cert", "int.pem", "-keyfile", "int.key",
            "-in", f"{stem}.csr", "-startdate", start, "-enddate", end, "-extfile", f"{stem}.ext", "-out", f"{stem}.pem")


def pem(label, der):
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def der_of(text):
    body = "".join(line for line in text.decode().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def cases(work):
    """Yields (name, certificate, key, password, type, code, phrase)."""
    ec, ec_key = read(work, "ec.pem"), read(work, "ec.key")
    chain = ec + read(work, "int.pem")
    rsa, rsa_key = read(work, "rsa.pem"), read(work, "rsa.key")
    other_key = read(work, "other.key")
    rng = random.Random(20261204)
    noise = bytes(rng.randrange(256) for _ in range(2048))
    body_lines = chain.decode().splitlines()

    def case(name, certificate, key=ec_key, password=None, kind=None, code="", phrase=""):
        return (name, certificate, key, password, kind, code, phrase)

    # Text that is not PEM at all.
    yield case("empty", b"", code="InvalidParameterValue.CertificateEmpty", phrase="is empty")
    yield case("whitespace-only", b" \r\n\t \n", code="InvalidParameterValue.CertificateEmpty", phrase="is empty")
    yield case("utf16le-with-bom", b"\xff\xfe" + chain.decode().encode("utf-16-le"), code="InvalidParameterValue.CertificateUtf16", phrase="UTF-16")
    yield case("utf16be-with-bom", b"\xfe\xff" + chain.decode().encode("utf-16-be"), code="InvalidParameterValue.CertificateUtf16", phrase="UTF-16")
    yield case("utf16le-without-bom", chain.decode().encode("utf-16-le"), code="InvalidParameterValue.CertificateUtf16", phrase="UTF-16")
    yield case("binary-noise", noise, code="InvalidParameterValue.CertificateBinary", phrase="binary data")
    yield case("nul-inside-pem", chain[:200] + b"\x00" + chain[200:], code="InvalidParameterValue.CertificateBinary", phrase="U+0000")
    yield case("der-bytes-raw", der_of(ec), code="InvalidParameterValue.CertificateBinary", phrase="binary data")
    yield case("plain-sentence", b"here is my certificate, please install it", code="FailedOperation.CertificateParseError", phrase="no PEM block")
    yield case("html-page", b"<html><body>404 Not Found</body></html>\n", code="FailedOperation.CertificateParseError", phrase="no PEM block")
    yield case("json-document", b'{"certificate": "MIIB"}', code="FailedOperation.CertificateParseError", phrase="no PEM block")
    yield case("base64-not-der", base64.b64encode(b"\x01\x02\x03\x04hello world, not DER at all"), code="FailedOperation.CertificateInvalid", phrase="not a certificate, a PKCS#7 bundle or a PKCS#12 file")
    yield case("base64-der-truncated", base64.b64encode(der_of(ec)[:300]), code="FailedOperation.CertificateParseError", phrase="no PEM block")
    # Broken PEM structure.
    yield case("missing-end-line", "\n".join(body_lines[:10]).encode(), code="InvalidParameterValue.CertificatePemUnterminated", phrase="has no -----END CERTIFICATE----- line")
    yield case("end-line-cut", chain[:chain.rfind(b"-----END") + 12], code="InvalidParameterValue.CertificatePemUnterminated", phrase="cut off")
    yield case("begin-inside-block", ec[:300] + b"\n" + read(work, "int.pem"), code="InvalidParameterValue.CertificatePemUnterminated", phrase="no -----END")
    yield case("label-mismatch-key", ec.replace(b"END CERTIFICATE", b"END PRIVATE KEY"), code="InvalidParameterValue.CertificatePemLabelMismatch", phrase="ends with END PRIVATE KEY")
    yield case("label-mismatch-crl", ec.replace(b"END CERTIFICATE", b"END X509 CRL"), code="InvalidParameterValue.CertificatePemLabelMismatch", phrase="both lines must name the same type")
    yield case("label-typo", ec.replace(b"END CERTIFICATE", b"END CERTIFICATES"), code="InvalidParameterValue.CertificatePemLabelMismatch", phrase="END CERTIFICATES")
    lines = ec.decode().splitlines()
    yield case("truncated-half", ("\n".join(lines[:len(lines) // 2] + lines[-1:]) + "\n").encode(), code="InvalidParameterValue.CertificateTruncated", phrase="truncated")
    yield case("truncated-last-line", ("\n".join(lines[:-2] + lines[-1:]) + "\n").encode(), code="InvalidParameterValue.CertificateTruncated", phrase="truncated")
    yield case("base64-bad-character", ec.replace(lines[3].encode(), lines[3][:10].encode() + b"*" + lines[3][11:].encode()), code="InvalidParameterValue.CertificateBase64Invalid", phrase="is not base64")
    yield case("base64url-alphabet", ec.replace(lines[3].encode(), lines[3].replace("+", "-").replace("/", "_").encode() + b"-_"), code="InvalidParameterValue.CertificateBase64Invalid", phrase="is not base64")
    yield case("base64-bad-length", ec.replace(lines[-2].encode(), lines[-2][:-1].rstrip("=").encode() + b"A"), code="FailedOperation.CertificateInvalid", phrase="bytes follow the certificate")
    yield case("empty-block", b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", code="InvalidParameterValue.CertificateBase64Invalid", phrase="the block is empty")
    yield case("block-text-not-der", pem("CERTIFICATE", b"\x00\x00 this is text"), code="FailedOperation.CertificateInvalid", phrase="not a valid X.509 certificate")
    # DER that is not a usable certificate.
    yield case("der-not-certificate", pem("CERTIFICATE", bytes.fromhex("3006020101020102")), code="FailedOperation.CertificateInvalid", phrase="not a valid X.509 certificate")
    der = bytearray(der_of(ec))
    der[4] = 0x31
    yield case("der-wrong-inner-tag", pem("CERTIFICATE", bytes(der)), code="FailedOperation.CertificateInvalid", phrase="not a valid X.509 certificate")
    yield case("der-trailing-bytes", pem("CERTIFICATE", der_of(ec) + b"\x05\x00"), code="FailedOperation.CertificateInvalid", phrase="bytes follow the certificate")
    yield case("trusted-certificate-garbage", pem("TRUSTED CERTIFICATE", bytes.fromhex("3003020101")), code="FailedOperation.CertificateInvalid", phrase="not a valid X.509 certificate")
    # Wrong kind of block in the certificate field.
    yield case("pkcs8-key-in-certificate-field", ec_key, code="InvalidParameterValue.PrivateKeyInCertificateField", phrase="private keys go in CertificatePrivateKey")
    yield case("key-and-certificate-combined", ec + ec_key, code="InvalidParameterValue.PrivateKeyInCertificateField", phrase="PRIVATE KEY block")
    rsa_pkcs1 = openssl(work, "rsa", "-in", "rsa.key", "-traditional")
    yield case("rsa-key-in-certificate-field", rsa_pkcs1, key=rsa_key, code="InvalidParameterValue.PrivateKeyInCertificateField", phrase="RSA PRIVATE KEY")
    yield case("der-key-in-certificate-field", base64.b64encode(der_of(ec_key)), code="InvalidParameterValue.PrivateKeyInCertificateField", phrase="DER private key")
    yield case("csr-instead-of-certificate", read(work, "ec.csr"), code="InvalidParameterValue.CertificateIsCsr", phrase="certificate signing request")
    yield case("public-key-block", openssl(work, "pkey", "-in", "ec.key", "-pubout"), code="InvalidParameterValue.CertificatePemTypeUnsupported", phrase="a public key is not a certificate")
    openssl(work, "ca", "-gencrl", "-config", "ca.conf", "-cert", "int.pem", "-keyfile", "int.key", "-out", "int.crl")
    yield case("crl-block", read(work, "int.crl"), code="InvalidParameterValue.CertificatePemTypeUnsupported", phrase="X509 CRL")
    yield case("unknown-label", pem("SOMETHING ELSE", der_of(ec)), code="InvalidParameterValue.CertificatePemTypeUnsupported", phrase="SOMETHING ELSE")
    # Limits.
    yield case("chain-of-1000", ec * 1000, code="InvalidParameterValue.CertificateChainTooLong", phrase="limit of 100")
    yield case("chain-of-101", ec * 50 + read(work, "int.pem") * 51, code="InvalidParameterValue.CertificateChainTooLong", phrase="limit of 100")
    yield case("over-size-limit", b"# " + b"x" * (1024 * 1024) + b"\n" + chain, code="InvalidParameterValue.CertificateTooLarge", phrase="over the limit of 1048576 bytes")
    # Bundles.
    yield case("pkcs7-not-signed-data", pem("PKCS7", bytes.fromhex("300d06092a864886f70d010701a000")), code="FailedOperation.CertificatePkcs7Invalid", phrase="not signedData")
    empty_p7 = openssl(work, "crl2pkcs7", "-in", "int.crl")
    yield case("pkcs7-without-certificates", empty_p7, code="FailedOperation.CertificatePkcs7Invalid", phrase="holds no certificates")
    write(work, "chain.pem", chain)
    p12 = openssl(work, "pkcs12", "-export", "-inkey", "ec.key", "-in", "ec.pem", "-certfile", "int.pem", "-passout", "pass:corpus")
    yield case("pkcs12-without-password", base64.b64encode(p12), key=b"", code="FailedOperation.PrivateKeyPasswordRequired", phrase="PKCS#12")
    yield case("pkcs12-wrong-password", base64.b64encode(p12), key=b"", password="not-it", code="FailedOperation.PrivateKeyPasswordIncorrect", phrase="PKCS#12")
    yield case("pkcs12-truncated", base64.b64encode(p12[:len(p12) // 2]), key=b"", password="corpus", code="FailedOperation.CertificateParseError", phrase="no PEM block")
    # Keys that do not fit.
    yield case("key-missing", chain, key=b"", code="MissingParameter", phrase="CertificatePrivateKey")
    yield case("key-whitespace-only", chain, key=b"  \n", code="MissingParameter", phrase="CertificatePrivateKey")
    yield case("certificate-in-key-field", chain, key=ec, code="InvalidParameterValue.CertificateInPrivateKeyField", phrase="holds a CERTIFICATE block")
    yield case("der-certificate-in-key-field", chain, key=base64.b64encode(der_of(ec)), code="InvalidParameterValue.CertificateInPrivateKeyField", phrase="DER certificate")
    yield case("key-matches-nothing", chain, key=other_key, code="FailedOperation.CertificateMismatch", phrase="matches none of the 2 certificates")
    yield case("rsa-key-with-ecdsa-certificate", chain, key=rsa_key, code="FailedOperation.CertificateMismatch", phrase="www.example.test")
    yield case("key-of-intermediate", chain, key=read(work, "int.key"), code="FailedOperation.PrivateKeyOfCaCertificate", phrase="belongs to the CA certificate")
    enc8 = openssl(work, "pkcs8", "-topk8", "-in", "ec.key", "-v2", "aes-256-cbc", "-passout", "pass:corpus")
    yield case("encrypted-pkcs8-no-password", chain, key=enc8, code="FailedOperation.PrivateKeyPasswordRequired", phrase="passphrase-protected")
    yield case("encrypted-pkcs8-wrong-password", chain, key=enc8, password="wrong", code="FailedOperation.PrivateKeyPasswordIncorrect", phrase="does not decrypt")
    legacy = openssl(work, "rsa", "-in", "rsa.key", "-traditional", "-aes256", "-passout", "pass:corpus")
    yield case("legacy-encrypted-no-password", rsa, key=legacy, code="FailedOperation.PrivateKeyPasswordRequired", phrase="DEK-Info AES-256-CBC")
    yield case("legacy-encrypted-wrong-password", rsa, key=legacy, password="wrong", code="FailedOperation.PrivateKeyPasswordIncorrect", phrase="does not decrypt")
    yield case("legacy-unknown-cipher", rsa, key=legacy.replace(b"AES-256-CBC", b"CAMELLIA-256-CBC"), password="corpus", code="FailedOperation.PrivateKeyEncryptionUnsupported", phrase="CAMELLIA-256-CBC")
    iv_line = [line for line in legacy.splitlines() if line.startswith(b"DEK-Info")][0]
    yield case("legacy-short-iv", rsa, key=legacy.replace(iv_line, b"DEK-Info: AES-256-CBC,0011"), password="corpus", code="FailedOperation.PrivateKeyInvalid", phrase="IV")
    pbes1 = openssl(work, "pkcs8", "-topk8", "-in", "ec.key", "-v1", "PBE-SHA1-3DES", "-passout", "pass:corpus")
    yield case("pkcs12-pbe-encrypted-key", chain, key=pbes1, password="corpus", code="FailedOperation.PrivateKeyEncryptionUnsupported", phrase="cannot decrypt")
    openssl(work, "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "pbits:1024", "-out", "dsa.param")
    yield case("dsa-key", chain, key=openssl(work, "genpkey", "-paramfile", "dsa.param"), code="FailedOperation.PrivateKeyUnsupported", phrase="DSA")
    yield case("ed25519-key", chain, key=openssl(work, "genpkey", "-algorithm", "ED25519"), code="FailedOperation.PrivateKeyUnsupported", phrase="Ed25519")
    yield case("p521-key", read(work, "p521.pem"), key=read(work, "p521.key"), code="FailedOperation.PrivateKeyUnsupported", phrase="P-521")
    yield case("rsa-1024-key", read(work, "weak.pem"), key=read(work, "weak.key"), code="FailedOperation.PrivateKeyUnsupported", phrase="below the minimum of 2048 bits")
    openssh = pem("OPENSSH PRIVATE KEY", b"openssh-key-v1\x00" + bytes(40))
    yield case("openssh-key", chain, key=openssh.encode(), code="FailedOperation.PrivateKeyOpenSshFormat", phrase="ssh-keygen")
    yield case("two-keys", chain, key=ec_key + other_key, code="InvalidParameterValue.PrivateKeyMultiple", phrase="2 private keys")
    key_lines = ec_key.decode().splitlines()
    yield case("key-truncated", chain, key=("\n".join(key_lines[:2] + key_lines[-1:]) + "\n").encode(), code="InvalidParameterValue.CertificateTruncated", phrase="CertificatePrivateKey")
    yield case("key-label-mismatch", chain, key=ec_key.replace(b"END PRIVATE KEY", b"END RSA PRIVATE KEY"), code="InvalidParameterValue.CertificatePemLabelMismatch", phrase="CertificatePrivateKey")
    yield case("key-utf16", chain, key=b"\xff\xfe" + ec_key.decode().encode("utf-16-le"), code="InvalidParameterValue.CertificateUtf16", phrase="CertificatePrivateKey")
    yield case("key-binary-noise", chain, key=noise[:512], code="InvalidParameterValue.CertificateBinary", phrase="CertificatePrivateKey")
    yield case("key-only-ec-parameters", chain, key=openssl(work, "ecparam", "-name", "prime256v1"), code="FailedOperation.PrivateKeyInvalid", phrase="holds no PRIVATE KEY block")
    yield case("key-public-only", chain, key=openssl(work, "pkey", "-in", "ec.key", "-pubout"), code="InvalidParameterValue.CertificatePemTypeUnsupported", phrase="upload the private key")
    key_der = bytearray(der_of(rsa_key))
    key_der[60] ^= 0x01
    yield case("rsa-key-corrupted", rsa, key=pem("PRIVATE KEY", bytes(key_der)).encode(), code="FailedOperation.PrivateKeyInvalid", phrase="inconsistent")
    yield case("key-not-der", chain, key=pem("PRIVATE KEY", bytes.fromhex("3003020100")).encode(), code="FailedOperation.PrivateKeyInvalid", phrase="too few fields")
    # Certificates certkeeper does not host.
    yield case("sm2-certificate", read(work, "sm2.pem"), key=read(work, "sm2.key"), code="FailedOperation.CertificateEncryptInvalid", phrase="SM2")
    yield case("sm2-certificate-as-ca", read(work, "sm2.pem"), key=b"", kind="CA", code="FailedOperation.CertificateEncryptInvalid", phrase="SM2")
    yield case("expired-certificate", read(work, "old.pem") + read(work, "int.pem"), key=read(work, "old.key"), code="FailedOperation.CertificateExpired", phrase="expired on 2021-01-01")
    yield case("rsa-1024-as-ca-type", read(work, "weak.pem"), key=b"", kind="CA", code="FailedOperation.CertificateCaError", phrase="is not a CA certificate")
    yield case("server-certificate-as-ca-type", chain, key=b"", kind="CA", code="FailedOperation.CertificateCaError", phrase="is not a CA certificate")
    yield case("certificate-type-unknown", chain, kind="CLIENT", code="InvalidParameterValue", phrase="expected SVR or CA")
    yield case("no-dns-name", read(work, "nameless.pem"), key=read(work, "nameless.key"), code="FailedOperation.CertificateNoDomain", phrase="carries no DNS name")


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        make_pki(work)
        count = 0
        for name, certificate, key, password, kind, code, phrase in cases(work):
            directory = os.path.join(OUT, name)
            count += 1
            if os.path.exists(directory):
                continue
            os.makedirs(directory)
            write(directory, "certificate", certificate)
            if key:
                write(directory, "key", key)
            if password:
                write(directory, "password", password)
            if kind:
                write(directory, "type", kind)
            write(directory, "expected", f"{code}\n{phrase}\n")
        print(f"{count} cases in {OUT}")


if __name__ == "__main__":
    main()
