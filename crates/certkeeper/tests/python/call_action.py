"""Call one `ssl` action through the Tencent Cloud Python SDK's common client.

Usage: call_action.py ENDPOINT ACTION PARAMS_JSON, with TENCENTCLOUD_SECRET_ID and
TENCENTCLOUD_SECRET_KEY set; PARAMS_JSON `-` reads the parameters from standard input. Prints the response object without `RequestId`, or
{"Error": {"Code": ..., "Message": ...}} when the server returns an error.
"""

import json
import os
import sys

from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile


def main():
    endpoint, action, params = sys.argv[1:4]
    if params == "-":
        params = sys.stdin.read()
    cred = credential.Credential(os.environ["TENCENTCLOUD_SECRET_ID"], os.environ["TENCENTCLOUD_SECRET_KEY"])
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http"))
    client = CommonClient("ssl", "2019-12-05", cred, "", profile=profile)
    try:
        response = client.call_json(action, json.loads(params))["Response"]
        response.pop("RequestId", None)
    except TencentCloudSDKException as error:
        response = {"Error": {"Code": error.get_code(), "Message": error.get_message()}}
    print(json.dumps(response))


if __name__ == "__main__":
    main()
