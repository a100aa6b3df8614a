//! The expiry-notice switch and the notification settings actions against a real SQLite store.

mod common;
mod fixture;

use fixture::{error_code, fixture};
use serde_json::json;

#[tokio::test]
async fn switch_turns_notices_off_and_on() {
    let fx = fixture().await;
    let first = fx.issue(fx.alice.account_id, &["quiet.example.com"], 20, "").await;
    let second = fx.issue(fx.alice.account_id, &["loud.example.com"], 20, "").await;

    let off = fx.call(&fx.alice, "ModifyCertificatesExpiringNotificationSwitch", &json!({ "CertificateIds": [first.id, first.id], "SwitchStatus": 1 })).await;
    assert_eq!(off["CertificateIds"], json!([first.id]), "{off}");
    let listed = fx.call(&fx.alice, "DescribeCertificates", &json!({})).await;
    for item in listed["Certificates"].as_array().unwrap() {
        let expected = item["CertificateId"] == json!(first.id);
        assert_eq!(item["IsIgnore"], json!(expected), "{item}");
    }
    let candidates = fx.store.expiry_candidates(0, i64::MAX).await.unwrap();
    let ids: Vec<&str> = candidates.iter().map(|c| c.certificate_id.as_str()).collect();
    assert_eq!(ids, [second.id.as_str()]);

    let on = fx.call(&fx.alice, "ModifyCertificatesExpiringNotificationSwitch", &json!({ "CertificateIds": [first.id], "SwitchStatus": 0 })).await;
    assert_eq!(on["CertificateIds"], json!([first.id]), "{on}");
    assert_eq!(fx.store.expiry_candidates(0, i64::MAX).await.unwrap().len(), 2);
}

#[tokio::test]
async fn switch_rejects_bad_input_without_changes() {
    let fx = fixture().await;
    let own = fx.issue(fx.alice.account_id, &["own.example.com"], 20, "").await;
    let foreign = fx.issue(fx.bob.account_id, &["foreign.example.com"], 20, "").await;

    let bad_status = fx.call(&fx.alice, "ModifyCertificatesExpiringNotificationSwitch", &json!({ "CertificateIds": [own.id], "SwitchStatus": 2 })).await;
    assert_eq!(error_code(&bad_status), Some("InvalidParameterValue"), "{bad_status}");
    assert!(bad_status["Error"]["Message"].as_str().unwrap().contains("SwitchStatus"), "{bad_status}");

    let mixed = fx.call(&fx.alice, "ModifyCertificatesExpiringNotificationSwitch", &json!({ "CertificateIds": [own.id, foreign.id], "SwitchStatus": 1 })).await;
    assert_eq!(error_code(&mixed), Some("FailedOperation.CertificateNotFound"), "{mixed}");

    let too_many: Vec<String> = (0..51).map(|i| format!("id{i}")).collect();
    let limit = fx.call(&fx.alice, "ModifyCertificatesExpiringNotificationSwitch", &json!({ "CertificateIds": too_many, "SwitchStatus": 1 })).await;
    assert_eq!(error_code(&limit), Some("InvalidParameter.CertificateIdNumberLimit"), "{limit}");

    let empty = fx.call(&fx.alice, "ModifyCertificatesExpiringNotificationSwitch", &json!({ "CertificateIds": [], "SwitchStatus": 1 })).await;
    assert_eq!(error_code(&empty), Some("InvalidParameterValue"), "{empty}");

    assert!(fx.store.expiry_notice_opt_outs(&[own.id.clone(), foreign.id.clone()]).await.unwrap().is_empty());
}

#[tokio::test]
async fn settings_round_trip_and_reject_bad_values() {
    let fx = fixture().await;
    let initial = fx.call(&fx.alice, "DescribeNotificationSettings", &json!({})).await;
    assert_eq!(initial["ExpiringThresholds"], json!(null), "{initial}");
    assert_eq!(initial["Emails"], json!([]), "{initial}");

    let set = fx
        .call(&fx.alice, "ModifyNotificationSettings", &json!({ "ExpiringThresholds": [7, 30, 7, 1], "Emails": ["ops@example.com"] }))
        .await;
    assert_eq!(set["ExpiringThresholds"], json!([30, 7, 1]), "{set}");
    let read = fx.call(&fx.alice, "DescribeNotificationSettings", &json!({})).await;
    assert_eq!(read["ExpiringThresholds"], json!([30, 7, 1]), "{read}");
    assert_eq!(read["Emails"], json!(["ops@example.com"]), "{read}");
    let other = fx.call(&fx.bob, "DescribeNotificationSettings", &json!({})).await;
    assert_eq!(other["ExpiringThresholds"], json!(null), "settings belong to one account: {other}");

    let cases = [
        (json!({ "ExpiringThresholds": [0] }), "ExpiringThresholds"),
        (json!({ "ExpiringThresholds": [400] }), "ExpiringThresholds"),
        (json!({ "ExpiringThresholds": [-1] }), "ExpiringThresholds"),
        (json!({ "ExpiringThresholds": [] }), "ExpiringThresholds"),
        (json!({ "Emails": ["not an address"] }), "Emails"),
        (json!({ "Emails": ["a@b,c@d"] }), "Emails"),
    ];
    for (body, name) in cases {
        let response = fx.call(&fx.alice, "ModifyNotificationSettings", &body).await;
        assert_eq!(error_code(&response), Some("InvalidParameterValue"), "{body}: {response}");
        assert!(response["Error"]["Message"].as_str().unwrap().contains(name), "{response}");
    }
    let unchanged = fx.call(&fx.alice, "DescribeNotificationSettings", &json!({})).await;
    assert_eq!(unchanged["ExpiringThresholds"], read["ExpiringThresholds"]);
    assert_eq!(unchanged["Emails"], read["Emails"]);
}
