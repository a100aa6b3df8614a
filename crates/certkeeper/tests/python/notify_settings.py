"""Set expiry notification options through the Tencent Cloud Python SDK against certkeeper.

Usage: notify_settings.py ENDPOINT, with TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY set.
Applies for two certificates, which the server's product issues without validation. Turns
expiry notices off for the second with ModifyCertificatesExpiringNotificationSwitch. Sets the
account's thresholds and recipient with the certkeeper action ModifyNotificationSettings. Prints
one JSON object with what the server returned.
"""

import json
import os
import sys
import time

from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.ssl.v20191205 import models, ssl_client

# Seconds to wait for a certificate to reach status 1.
ISSUE_TIMEOUT = 30


def call(client, name, params):
    request = getattr(models, name + "Request")()
    request.from_json_string(json.dumps(params))
    return json.loads(getattr(client, name)(request).to_json_string())


def error_code(action):
    try:
        action()
    except TencentCloudSDKException as error:
        return error.get_code()
    return None


def apply(client, domain):
    certificate_id = call(client, "ApplyCertificate", {"DvAuthMethod": "DNS", "DomainName": domain})["CertificateId"]
    deadline = time.time() + ISSUE_TIMEOUT
    while call(client, "DescribeCertificate", {"CertificateId": certificate_id})["Status"] != 1:
        if time.time() > deadline:
            raise RuntimeError("certificate %s was not issued within %d s" % (certificate_id, ISSUE_TIMEOUT))
        time.sleep(0.2)
    return certificate_id


def main():
    endpoint = sys.argv[1]
    cred = credential.Credential(os.environ["TENCENTCLOUD_SECRET_ID"], os.environ["TENCENTCLOUD_SECRET_KEY"])
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http"))
    client = ssl_client.SslClient(cred, "", profile)
    common = CommonClient("ssl", "2019-12-05", cred, "", profile)

    notified = apply(client, "notified.example.test")
    ignored = apply(client, "ignored.example.test")

    switched = call(client, "ModifyCertificatesExpiringNotificationSwitch", {"CertificateIds": [ignored], "SwitchStatus": 1})
    bad_switch = error_code(
        lambda: call(client, "ModifyCertificatesExpiringNotificationSwitch", {"CertificateIds": [ignored], "SwitchStatus": 5})
    )
    listed = call(client, "DescribeCertificates", {"Limit": 10})
    is_ignore = {item["CertificateId"]: item["IsIgnore"] for item in listed["Certificates"]}

    settings = common.call_json(
        "ModifyNotificationSettings", {"ExpiringThresholds": [3, 1], "Emails": ["owner@example.test"]}
    )["Response"]
    bad_settings = error_code(lambda: common.call_json("ModifyNotificationSettings", {"ExpiringThresholds": [0]}))

    print(json.dumps({
        "notified": notified,
        "ignored": ignored,
        "switched": switched["CertificateIds"],
        "bad_switch": bad_switch,
        "is_ignore": is_ignore,
        "settings": {"ExpiringThresholds": settings["ExpiringThresholds"], "Emails": settings["Emails"]},
        "bad_settings": bad_settings,
    }), flush=True)


if __name__ == "__main__":
    main()
