"""Drive a certificate order through the Tencent Cloud Python SDK against certkeeper.

Usage: main_job.py ENDPOINT DOMAIN ZIP_PATH, with TENCENTCLOUD_SECRET_ID and
TENCENTCLOUD_SECRET_KEY set. The script prints one JSON object per line on stdout:

1. {"step": "apply", "CertificateId": ..., "DvAuthDetail": {...}} after ApplyCertificate.
   It then reads one line from stdin, which the caller sends once the TXT record is published.
2. {"step": "issued", "Status": 1} once DescribeCertificate reports the certificate issued.
3. {"step": "downloaded", "path": ZIP_PATH} after DownloadCertificate wrote the ZIP.
"""

import base64
import json
import os
import sys
import time

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.ssl.v20191205 import models, ssl_client

# Seconds to wait for issuance after CompleteCertificate; the server rechecks every second.
ISSUE_TIMEOUT = 60


def emit(event):
    print(json.dumps(event), flush=True)


def call(client, name, params):
    request = getattr(models, name + "Request")()
    request.from_json_string(json.dumps(params))
    return json.loads(getattr(client, name)(request).to_json_string())


def main():
    endpoint, domain, zip_path = sys.argv[1:4]
    cred = credential.Credential(os.environ["TENCENTCLOUD_SECRET_ID"], os.environ["TENCENTCLOUD_SECRET_KEY"])
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http"))
    client = ssl_client.SslClient(cred, "", profile)

    applied = call(client, "ApplyCertificate", {"DvAuthMethod": "DNS", "DomainName": domain})
    certificate_id = applied["CertificateId"]
    described = call(client, "DescribeCertificate", {"CertificateId": certificate_id})
    emit({"step": "apply", "CertificateId": certificate_id, "DvAuthDetail": described["DvAuthDetail"]})

    if not sys.stdin.readline():
        sys.exit("stdin closed before the record was published")

    call(client, "CompleteCertificate", {"CertificateId": certificate_id})
    deadline = time.monotonic() + ISSUE_TIMEOUT
    while True:
        described = call(client, "DescribeCertificate", {"CertificateId": certificate_id})
        if described["Status"] == 1:
            break
        if time.monotonic() > deadline:
            sys.exit(f"certificate {certificate_id} not issued after {ISSUE_TIMEOUT} s: {described}")
        time.sleep(0.5)
    emit({"step": "issued", "Status": described["Status"]})

    downloaded = call(client, "DownloadCertificate", {"CertificateId": certificate_id})
    with open(zip_path, "wb") as archive:
        archive.write(base64.b64decode(downloaded["Content"]))
    emit({"step": "downloaded", "path": zip_path})


if __name__ == "__main__":
    main()
