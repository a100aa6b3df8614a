"""Drive a certkeeper API server with the Tencent Cloud Python SDK and its own TC3 signer.

Usage: sdk_client.py PORT SECRET_ID SECRET_KEY

The server must run the echo handler of the Rust integration tests. Prints one JSON object per
case, {"case": NAME, "ok": true|false, "detail": TEXT}, and exits with status 1 if any case failed.
"""

import http.client
import json
import sys
import time
import traceback
from unittest import mock

from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

PORT = int(sys.argv[1])
SECRET_ID = sys.argv[2]
SECRET_KEY = sys.argv[3]
WRONG_KEY = "WrongSecretKey000000000000000000"

LIST_PARAMS = {
    "Offset": 0,
    "Limit": 5,
    "CertificateStatus": [1, 9],
    "CertIds": ["x1", "x2"],
    "Tags": [{"TagKey": "team", "TagValue": "web ops"}],
}

results = []


def make_client(method="POST", secret_key=SECRET_KEY, unsigned_payload=False):
    http_profile = HttpProfile(endpoint="127.0.0.1:%d" % PORT, protocol="http", reqMethod=method)
    profile = ClientProfile(httpProfile=http_profile)
    profile.unsignedPayload = unsigned_payload
    cred = credential.Credential(SECRET_ID, secret_key)
    return CommonClient("ssl", "2019-12-05", cred, "ap-guangzhou", profile)


def case(name):
    def register(check):
        try:
            detail = check()
            results.append({"case": name, "ok": True, "detail": detail or ""})
        except Exception:
            results.append({"case": name, "ok": False, "detail": traceback.format_exc()})
        return check

    return register


def expect_equal(actual, expected, label):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (label, expected, actual))


def sdk_error_code(call):
    try:
        response = call()
    except TencentCloudSDKException as error:
        if not error.get_request_id():
            raise AssertionError("error %s has no RequestId" % error.get_code())
        return error.get_code()
    raise AssertionError("call succeeded unexpectedly: %r" % response)


def build_signed(method="POST", action="RevokeCertificate", params=None, secret_key=SECRET_KEY,
                 timestamp=None):
    """Return the headers and body the SDK would send, signed by the SDK itself."""
    client = make_client(method=method, secret_key=secret_key)
    request = RequestInternal(client._get_endpoint(), method, "/", header={})
    if params is None:
        params = {"CertificateId": "abcd1234", "Reason": "key compromise"}
    if timestamp is None:
        client._build_req_with_tc3_signature(action, params, request)
    else:
        with mock.patch("time.time", return_value=timestamp):
            client._build_req_with_tc3_signature(action, params, request)
    return dict(request.header), request.data


def send_raw(method, headers, data):
    """Send a request with http.client and return the inner Response object."""
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    if method == "GET":
        connection.request("GET", "/?" + data, headers=headers)
    else:
        body = data.encode("utf-8") if isinstance(data, str) else data
        connection.request("POST", "/", body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    expect_equal(response.status, 200, "HTTP status")
    expect_equal(response.getheader("Content-Type"), "application/json", "Content-Type")
    inner = json.loads(payload)["Response"]
    if not inner.get("RequestId"):
        raise AssertionError("response has no RequestId: %r" % inner)
    return inner


def raw_error_code(method, headers, data):
    inner = send_raw(method, headers, data)
    return inner.get("Error", {}).get("Code")


@case("sdk_post")
def _():
    response = make_client().call_json("DescribeCertificates", LIST_PARAMS)["Response"]
    expect_equal(response["Offset"], 0, "Offset")
    expect_equal(response["Limit"], 5, "Limit")
    expect_equal(response["CertificateStatus"], [1, 9], "CertificateStatus")
    expect_equal(response["CertIds"], ["x1", "x2"], "CertIds")
    expect_equal(response["Params"]["Tags"], LIST_PARAMS["Tags"], "Tags")
    expect_equal(response["Context"]["SecretId"], SECRET_ID, "SecretId")
    expect_equal(response["Context"]["Region"], "ap-guangzhou", "Region")
    expect_equal(response["Context"]["Language"], "zh-CN", "Language")


@case("sdk_get")
def _():
    response = make_client(method="GET").call_json("DescribeCertificates", LIST_PARAMS)["Response"]
    expect_equal(response["Offset"], 0, "Offset")
    expect_equal(response["Limit"], 5, "Limit")
    expect_equal(response["CertificateStatus"], [1, 9], "CertificateStatus")
    expect_equal(response["CertIds"], ["x1", "x2"], "CertIds")
    expect_equal(response["Params"]["Tags"], LIST_PARAMS["Tags"], "Tags")


@case("sdk_unsigned_payload")
def _():
    client = make_client(unsigned_payload=True)
    response = client.call_json("RevokeCertificate", {"CertificateId": "abcd1234"})["Response"]
    expect_equal(response["CertificateId"], "abcd1234", "CertificateId")


@case("sdk_non_ascii")
def _():
    params = {"CertificateId": "abcd1234", "Reason": "私钥泄露 key compromise"}
    response = make_client().call_json("RevokeCertificate", params)["Response"]
    expect_equal(response["Reason"], params["Reason"], "Reason")


@case("sdk_error_code")
def _():
    client = make_client()
    code = sdk_error_code(lambda: client.call_json("RevokeCertificate", {}))
    expect_equal(code, "MissingParameter", "error code")
    code = sdk_error_code(lambda: client.call_json("NoSuchAction", {}))
    expect_equal(code, "InvalidAction", "error code")


@case("sdk_wrong_key")
def _():
    client = make_client(secret_key=WRONG_KEY)
    code = sdk_error_code(lambda: client.call_json("DescribeCertificates", {}))
    expect_equal(code, "AuthFailure.SignatureFailure", "error code")


@case("sdk_legacy_signature")
def _():
    client = make_client()
    client.profile.signMethod = "HmacSHA256"
    code = sdk_error_code(lambda: client.call_json("DescribeCertificates", {}))
    expect_equal(code, "AuthFailure.SignatureFailure", "error code")


@case("raw_unchanged")
def _():
    headers, body = build_signed()
    inner = send_raw("POST", headers, body)
    if "Error" in inner:
        raise AssertionError("unchanged request rejected: %r" % inner)
    expect_equal(inner["CertificateId"], "abcd1234", "CertificateId")


@case("raw_body_byte_changed")
def _():
    headers, body = build_signed()
    changed = body.replace("abcd1234", "abcd1235")
    expect_equal(len(changed), len(body), "body length")
    code = raw_error_code("POST", headers, changed)
    expect_equal(code, "AuthFailure.SignatureFailure", "error code")


@case("raw_host_changed")
def _():
    headers, body = build_signed()
    headers["Host"] = "localhost:%d" % PORT
    code = raw_error_code("POST", headers, body)
    expect_equal(code, "AuthFailure.SignatureFailure", "error code")


@case("raw_content_type_changed")
def _():
    headers, body = build_signed()
    headers["Content-Type"] = "application/json; charset=utf-8"
    code = raw_error_code("POST", headers, body)
    expect_equal(code, "AuthFailure.SignatureFailure", "error code")


@case("raw_wrong_key")
def _():
    headers, body = build_signed(secret_key=WRONG_KEY)
    code = raw_error_code("POST", headers, body)
    expect_equal(code, "AuthFailure.SignatureFailure", "error code")


@case("raw_six_minutes_old")
def _():
    headers, body = build_signed(timestamp=time.time() - 360)
    code = raw_error_code("POST", headers, body)
    expect_equal(code, "AuthFailure.SignatureExpire", "error code")


@case("raw_get_unchanged")
def _():
    headers, query = build_signed(method="GET", action="DescribeCertificates", params=LIST_PARAMS)
    inner = send_raw("GET", headers, query)
    if "Error" in inner:
        raise AssertionError("unchanged GET rejected: %r" % inner)
    expect_equal(inner["CertificateStatus"], [1, 9], "CertificateStatus")


@case("raw_get_query_changed")
def _():
    headers, query = build_signed(method="GET", action="DescribeCertificates", params=LIST_PARAMS)
    changed = query.replace("Limit=5", "Limit=6")
    if changed == query:
        raise AssertionError("query %r has no Limit=5 to change" % query)
    code = raw_error_code("GET", headers, changed)
    expect_equal(code, "AuthFailure.SignatureFailure", "error code")


for result in results:
    print(json.dumps(result))
sys.exit(0 if all(result["ok"] for result in results) else 1)
