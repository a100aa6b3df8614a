//! The `ssl` actions against a real SQLite store: output types, filters, account isolation,
//! downloads, CSRs and rejected requests.

mod common;
mod fixture;

use std::collections::HashSet;
use std::io::Read;
use std::process::Command;

use fixture::{Fixture, error_code, fixture};
use serde_json::{Value, json};

fn ids(response: &Value) -> Vec<String> {
    response["Certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no Certificates in {response}"))
        .iter()
        .map(|item| item["CertificateId"].as_str().unwrap().to_owned())
        .collect()
}

fn is_api_time(value: &Value) -> bool {
    let text = value.as_str().unwrap_or("");
    text.len() == 19 && time::PrimitiveDateTime::parse(text, &time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")).is_ok()
}

#[tokio::test]
async fn list_item_field_types() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["www.example.com", "example.com"], 90, "web").await;
    let response = fx.call(&fx.alice, "DescribeCertificates", &json!({})).await;
    assert_eq!(response["TotalCount"], json!(1), "{response}");
    let item = &response["Certificates"][0];
    assert_eq!(item["CertificateId"], json!(record.id));
    assert!(item["ProjectId"].is_string(), "ProjectId must be a string: {item}");
    assert!(item["OwnerUin"].is_string());
    assert!(item["Status"].is_u64(), "Status must be a number");
    assert_eq!(item["Status"], json!(1));
    assert!(item["ValidityPeriod"].is_string());
    assert!(item["CertificateExtra"]["DomainNumber"].is_string());
    assert!(item["CertificateExtra"]["SMCert"].is_i64());
    assert!(item["ProjectInfo"]["ProjectCreatorUin"].is_u64());
    assert!(item["ProjectInfo"]["OwnerUin"].is_u64());
    assert!(item["ProjectInfo"]["ProjectId"].is_string());
    assert!(item["IsDv"].is_boolean());
    assert!(item["Deployable"].is_boolean());
    assert!(item["AllowDownload"].is_boolean());
    assert!(item["AutoRenewFlag"].is_i64());
    assert!(item["Tags"].is_array());
    assert!(item["SubjectAltName"].is_array());
    assert!(is_api_time(&item["CertBeginTime"]), "{}", item["CertBeginTime"]);
    assert!(is_api_time(&item["CertEndTime"]));
    assert!(is_api_time(&item["InsertTime"]));
    assert_eq!(item["EncryptAlgorithm"], json!("ECC 256"));
    assert_eq!(item["Alias"], json!("web"));
    assert_eq!(item["CertRevokedTime"], json!(""));
}

#[tokio::test]
async fn describe_and_detail_types() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["www.example.com", "example.com"], 90, "").await;
    let info = fx.call(&fx.alice, "DescribeCertificate", &json!({ "CertificateId": record.id })).await;
    assert!(info["ProjectId"].is_string(), "{info}");
    assert!(info["Status"].is_u64());
    assert_eq!(info["SubjectAltName"], json!(["www.example.com", "example.com"]));
    assert!(info["DvAuthDetail"].is_null());

    let detail = fx.call(&fx.alice, "DescribeCertificateDetail", &json!({ "CertificateId": record.id })).await;
    assert_eq!(detail["SubjectAltName"], json!(["example.com"]), "the detail excludes the main domain");
    assert_eq!(detail["CertType"], json!("DV"));
    assert_eq!(detail["EncryptAlgorithm"], json!("ECC 256"));
    assert_eq!(detail["DomainType"], json!(2));
    assert!(detail["CertificatePrivateKey"].is_null(), "the key came with a CSR, so certkeeper does not hold it");
    let leaf = record.certificate_der.as_deref().unwrap();
    assert_eq!(detail["CertFingerprint"], json!(certkeeper_pki::sha1_hex(leaf)));
    let bundle = detail["CertificatePublicKey"].as_str().unwrap();
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 2, "leaf and intermediate");
    assert!(bundle.starts_with(&certkeeper_pki::to_pem("CERTIFICATE", leaf)));
    assert_eq!(detail["CertChainInfo"].as_array().unwrap().len(), 3);
    assert!(detail["RootCert"]["Standard"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
}

#[tokio::test]
async fn detail_returns_held_private_key() {
    let fx = fixture().await;
    let (record, key_pem) = fx.issue_with_key(fx.alice.account_id, "held.example.com").await;
    let detail = fx.call(&fx.alice, "DescribeCertificateDetail", &json!({ "CertificateId": record.id })).await;
    assert_eq!(detail["CertificatePrivateKey"].as_str().unwrap().trim(), key_pem.trim(), "{detail}");
}

#[tokio::test]
async fn paging_and_sorting() {
    let fx = fixture().await;
    let mut issued = Vec::new();
    for (index, days) in [30u32, 90, 60, 120, 10].into_iter().enumerate() {
        let name = format!("host{index}.example.com");
        issued.push(fx.issue(fx.alice.account_id, &[&name], days, "").await);
    }
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let page = fx.call(&fx.alice, "DescribeCertificates", &json!({ "Offset": offset, "Limit": "2" })).await;
        assert_eq!(page["TotalCount"], json!(5));
        seen.extend(ids(&page));
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5, "pages overlap: {seen:?}");
    // Newest application first, and by id (descending) among certificates applied for together.
    let mut newest_first = issued.clone();
    newest_first.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let newest_first: Vec<String> = newest_first.iter().map(|record| record.id.clone()).collect();
    assert_eq!(seen, newest_first, "default order is newest first");

    let mut by_expiry = issued.clone();
    by_expiry.sort_by_key(|record| record.not_after);
    let ascending = fx.call(&fx.alice, "DescribeCertificates", &json!({ "ExpirationSort": "ASC" })).await;
    let expected: Vec<String> = by_expiry.iter().map(|record| record.id.clone()).collect();
    assert_eq!(ids(&ascending), expected);
    let descending = fx.call(&fx.alice, "DescribeCertificates", &json!({ "ExpirationSort": "DESC" })).await;
    assert_eq!(ids(&descending), expected.into_iter().rev().collect::<Vec<_>>());

    let beyond = fx.call(&fx.alice, "DescribeCertificates", &json!({ "Offset": 10 })).await;
    assert_eq!(beyond["TotalCount"], json!(5));
    assert_eq!(ids(&beyond).len(), 0);
    let clamped = fx.call(&fx.alice, "DescribeCertificates", &json!({ "Limit": 5000 })).await;
    assert_eq!(ids(&clamped).len(), 5);
    let bad_sort = fx.call(&fx.alice, "DescribeCertificates", &json!({ "ExpirationSort": "UP" })).await;
    assert_eq!(error_code(&bad_sort), Some("InvalidParameterValue"));
}

async fn count(fx: &Fixture, filter: Value) -> u64 {
    let response = fx.call(&fx.alice, "DescribeCertificates", &filter).await;
    let total = response["TotalCount"].as_u64().unwrap_or_else(|| panic!("{filter} -> {response}"));
    assert_eq!(total as usize, ids(&response).len(), "{filter}");
    total
}

#[tokio::test]
async fn listing_filters() {
    let fx = fixture().await;
    let shop = fx.issue(fx.alice.account_id, &["shop.example.com"], 90, "storefront").await;
    let soon = fx.issue(fx.alice.account_id, &["api.example.org"], 10, "").await;
    fx.issue(fx.alice.account_id, &["mail.example.net"], 200, "").await;
    fx.call(&fx.alice, "ModifyCertificateProject", &json!({ "CertificateIdList": [shop.id], "ProjectId": 7 })).await;

    assert_eq!(count(&fx, json!({})).await, 3);
    assert_eq!(count(&fx, json!({ "SearchKey": "example.org" })).await, 1);
    assert_eq!(count(&fx, json!({ "SearchKey": "STOREFRONT" })).await, 1, "alias search ignores ASCII case");
    assert_eq!(count(&fx, json!({ "SearchKey": shop.id })).await, 1);
    assert_eq!(count(&fx, json!({ "SearchKey": "%" })).await, 0, "LIKE wildcards are literal");
    assert_eq!(count(&fx, json!({ "ProjectId": 7 })).await, 1);
    assert_eq!(count(&fx, json!({ "ProjectId": "0" })).await, 2);
    assert_eq!(count(&fx, json!({ "CertificateStatus": [1] })).await, 3);
    assert_eq!(count(&fx, json!({ "CertificateStatus": [0, 10] })).await, 0);
    assert_eq!(count(&fx, json!({ "CertificateType": "SVR" })).await, 3);
    assert_eq!(count(&fx, json!({ "CertificateType": "CA" })).await, 0);
    assert_eq!(count(&fx, json!({ "FilterSource": "buy" })).await, 3);
    assert_eq!(count(&fx, json!({ "FilterSource": "upload" })).await, 0);
    assert_eq!(count(&fx, json!({ "Upload": 1 })).await, 0);
    assert_eq!(count(&fx, json!({ "CertIds": [shop.id, soon.id, "unknown1"] })).await, 2);
    assert_eq!(count(&fx, json!({ "FilterExpiring": 1 })).await, 1);
    assert_eq!(count(&fx, json!({ "Renew": 1 })).await, 1);
    assert_eq!(count(&fx, json!({ "IsSM": 1 })).await, 0);
    assert_eq!(count(&fx, json!({ "IsPendingIssue": 1 })).await, 0);
    assert_eq!(count(&fx, json!({ "Deployable": 1 })).await, 3);
    assert_eq!(count(&fx, json!({ "Hostable": 0 })).await, 0);
    assert_eq!(count(&fx, json!({ "Tags": [{ "TagKey": "a", "TagValue": "b" }] })).await, 3);
    let expiring = fx.call(&fx.alice, "DescribeCertificates", &json!({ "FilterExpiring": 1 })).await;
    assert_eq!(ids(&expiring), vec![soon.id.clone()]);
    assert_eq!(expiring["Certificates"][0]["IsExpiring"], json!(true));
    assert_eq!(expiring["Certificates"][0]["RenewAble"], json!(true));
}

#[tokio::test]
async fn other_account_sees_unknown_id() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["private.example.com"], 90, "").await;
    let unknown = "zzzz9999";
    #[allow(clippy::type_complexity)] // a table of cases, read once below
    let cases: Vec<(&str, Box<dyn Fn(&str) -> Value>)> = vec![
        ("DescribeCertificate", Box::new(|id| json!({ "CertificateId": id }))),
        ("DescribeCertificateDetail", Box::new(|id| json!({ "CertificateId": id }))),
        ("DownloadCertificate", Box::new(|id| json!({ "CertificateId": id }))),
        ("DescribeDownloadCertificateUrl", Box::new(|id| json!({ "CertificateId": id }))),
        ("ModifyCertificateAlias", Box::new(|id| json!({ "CertificateId": id, "Alias": "mine" }))),
    ];
    for (action, body) in &cases {
        let foreign = fx.call(&fx.bob, action, &body(&record.id)).await;
        let missing = fx.call(&fx.bob, action, &body(unknown)).await;
        assert_eq!(error_code(&foreign), Some("FailedOperation.CertificateNotFound"), "{action}: {foreign}");
        assert_eq!(foreign["Error"]["Code"], missing["Error"]["Code"], "{action}");
        let foreign_message = foreign["Error"]["Message"].as_str().unwrap().replace(&record.id, "ID");
        let missing_message = missing["Error"]["Message"].as_str().unwrap().replace(unknown, "ID");
        assert_eq!(foreign_message, missing_message, "{action}");
    }
    let project = fx.call(&fx.bob, "ModifyCertificateProject", &json!({ "CertificateIdList": [record.id], "ProjectId": 3 })).await;
    assert_eq!(project["SuccessCertificates"], json!([]));
    assert_eq!(project["FailCertificates"], json!([record.id]));
    let listed = fx.call(&fx.bob, "DescribeCertificates", &json!({ "CertIds": [record.id] })).await;
    assert_eq!(listed["TotalCount"], json!(0));
    let searched = fx.call(&fx.bob, "DescribeCertificates", &json!({ "SearchKey": "private" })).await;
    assert_eq!(searched["TotalCount"], json!(0));
    let logs = fx.call(&fx.bob, "DescribeCertificateOperateLogs", &json!({})).await;
    assert_eq!(logs["AllTotal"], json!(0), "{logs}");

    let unchanged = fx.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(unchanged.alias, "");
    assert_eq!(unchanged.project_id, 0);
}

#[tokio::test]
async fn alias_project_and_logs() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["logs.example.com"], 90, "").await;
    let alias = fx.call(&fx.alice, "ModifyCertificateAlias", &json!({ "CertificateId": record.id, "Alias": "renamed" })).await;
    assert_eq!(alias["CertificateId"], json!(record.id), "{alias}");
    let project = fx
        .call(&fx.alice, "ModifyCertificateProject", &json!({ "CertificateIdList": [record.id, "nothere1"], "ProjectId": "12" }))
        .await;
    assert_eq!(project["SuccessCertificates"], json!([record.id]));
    assert_eq!(project["FailCertificates"], json!(["nothere1"]));
    let stored = fx.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.alias, "renamed");
    assert_eq!(stored.project_id, 12);

    let logs = fx.call(&fx.alice, "DescribeCertificateOperateLogs", &json!({ "Limit": 10 })).await;
    let types: Vec<&str> = logs["OperateLogs"].as_array().unwrap().iter().map(|log| log["Type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["changeProject", "updateAlias", "issued"], "{logs}");
    assert_eq!(logs["AllTotal"], json!(3));
    assert_eq!(logs["TotalCount"], json!(3));
    assert!(is_api_time(&logs["OperateLogs"][0]["CreatedOn"]));
    let window = fx
        .call(&fx.alice, "DescribeCertificateOperateLogs", &json!({ "StartTime": "2020-01-01 00:00:00", "EndTime": "2020-02-01 00:00:00" }))
        .await;
    assert_eq!(window["AllTotal"], json!(0));
    let bad_time = fx.call(&fx.alice, "DescribeCertificateOperateLogs", &json!({ "StartTime": "yesterday" })).await;
    assert_eq!(error_code(&bad_time), Some("InvalidParameterValue"));
}

/// Reads every text file of a ZIP archive (PEM and key files); keystores and DER are skipped.
fn unzip(archive: &[u8]) -> Vec<(String, String)> {
    let mut reader = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut files = Vec::new();
    for index in 0..reader.len() {
        let mut file = reader.by_index(index).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        if let Ok(text) = String::from_utf8(bytes) {
            files.push((file.name().unwrap().to_string(), text));
        }
    }
    files
}

fn check_pem_file(name: &str, text: &str) {
    assert!(text.ends_with('\n'), "{name} lacks a final newline");
    assert!(!text.ends_with("\n\n"), "{name} ends with a blank line");
    assert!(!text.contains('\r'), "{name} has CR line ends");
    let blocks: Vec<&str> = text.split("-----END CERTIFICATE-----").filter(|block| block.contains("BEGIN")).collect();
    let unique: HashSet<&str> = blocks.iter().map(|block| block.trim()).collect();
    assert_eq!(unique.len(), blocks.len(), "{name} repeats a certificate");
}

#[tokio::test]
async fn download_zip_verifies() {
    let fx = fixture().await;
    let (record, key_pem) = fx.issue_with_key(fx.alice.account_id, "download.example.com").await;
    let response = fx.call(&fx.alice, "DownloadCertificate", &json!({ "CertificateId": record.id })).await;
    assert_eq!(response["ContentType"], json!("application/zip"), "{response}");
    use base64::Engine;
    let archive = base64::engine::general_purpose::STANDARD.decode(response["Content"].as_str().unwrap()).unwrap();
    let files = unzip(&archive);
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Nginx/download.example.com_bundle.crt",
            "Nginx/download.example.com.key",
            "Apache/download.example.com.crt",
            "Apache/root_bundle.crt",
            "Apache/download.example.com.key",
            "IIS/keystorePass.txt",
            "IIS/README.txt",
            "Tomcat/keystorePass.txt",
            "Root/root.crt",
            "Other/download.example.com.pem",
            "Other/chain.pem",
            "Other/download.example.com.key",
        ]
    );
    let out = fx.dir.path().join("unzipped");
    for (name, text) in &files {
        if name.ends_with(".txt") {
            continue;
        }
        check_pem_file(name, text);
        let path = out.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let file = |name: &str| files.iter().find(|(path, _)| path == name).map(|(_, text)| text.clone()).unwrap();
    assert_eq!(file("Nginx/download.example.com.key").trim(), key_pem.trim());
    assert_eq!(file("Nginx/download.example.com_bundle.crt").matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(file("Apache/root_bundle.crt").matches("BEGIN CERTIFICATE").count(), 1);
    assert_ne!(file("Apache/root_bundle.crt"), file("Root/root.crt"), "the chain holds the intermediate only");

    let verify = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(out.join("Root/root.crt"))
        .arg("-untrusted")
        .arg(out.join("Apache/root_bundle.crt"))
        .arg(out.join("Apache/download.example.com.crt"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "openssl verify: {}", String::from_utf8_lossy(&verify.stderr));

    let logs = fx.store.operation_log(&record.id).await.unwrap();
    assert_eq!(logs.last().unwrap().action, "download");
}

#[tokio::test]
async fn download_url_serves_one_type() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["*.example.com"], 90, "").await;
    let response = fx.call(&fx.alice, "DescribeDownloadCertificateUrl", &json!({ "CertificateId": record.id, "ServiceType": "apache" })).await;
    assert_eq!(response["DownloadFilename"], json!("_.example.com_apache.zip"), "{response}");
    let url = response["DownloadCertificateUrl"].as_str().unwrap();
    let path = url.strip_prefix("http://127.0.0.1:18931").unwrap();
    let (status, body) = fx.get(path).await;
    assert_eq!(status, 200);
    let names: Vec<String> = unzip(&body).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, vec!["Apache/_.example.com.crt", "Apache/root_bundle.crt"]);
    let (status, _) = fx.get(&path.replace("_apache.zip", "_nginx.zip")).await;
    assert_eq!(status, 404);
    let (status, _) = fx.get("/download/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/x.zip").await;
    assert_eq!(status, 404);

    let default = fx.call(&fx.alice, "DescribeDownloadCertificateUrl", &json!({ "CertificateId": record.id })).await;
    assert_eq!(default["DownloadFilename"], json!("_.example.com_nginx.zip"));
    for service_type in ["jks", "tomcat", "pdf"] {
        let rejected = fx.call(&fx.alice, "DescribeDownloadCertificateUrl", &json!({ "CertificateId": record.id, "ServiceType": service_type })).await;
        assert_eq!(error_code(&rejected), Some("FailedOperation.CertificateDownloadServiceTypeNotSupport"), "{service_type}");
    }
}

#[tokio::test]
async fn download_rejected_when_revoked() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["revoked.example.com"], 90, "").await;
    let log = certkeeper_store::LogEntry { actor: "test", action: "revoked", detail: "", at: common::NOW };
    fx.store
        .change_status(&record.id, certkeeper_core::CertificateStatus::Issued, certkeeper_core::CertificateStatus::Revoked, "", &log)
        .await
        .unwrap();
    for action in ["DownloadCertificate", "DescribeDownloadCertificateUrl"] {
        let rejected = fx.call(&fx.alice, action, &json!({ "CertificateId": record.id })).await;
        assert_eq!(error_code(&rejected), Some("FailedOperation.CertificateStatusNotAllowDownload"), "{action}: {rejected}");
    }
}

#[tokio::test]
async fn csr_lifecycle() {
    let fx = fixture().await;
    let fields = json!({
        "Domain": "csr.example.com", "Organization": "Example Ltd", "Department": "IT", "Email": "ops@example.com",
        "Province": "Guangdong", "City": "Shenzhen", "Country": "CN", "EncryptAlgo": "ECC", "KeyParameter": "prime256v1",
    });
    let mut draft_body = fields.clone();
    draft_body["Generate"] = json!(false);
    draft_body["Remark"] = json!("draft");
    let draft = fx.call(&fx.alice, "CreateCSR", &draft_body).await;
    let draft_id = draft["Id"].as_i64().unwrap_or_else(|| panic!("{draft}"));

    let mut generated_body = fields.clone();
    generated_body["Generate"] = json!(true);
    let generated = fx.call(&fx.alice, "CreateCSR", &generated_body).await;
    let generated_id = generated["Id"].as_i64().unwrap();

    let described = fx.call(&fx.alice, "DescribeCSR", &json!({ "CSRId": generated_id })).await;
    assert_eq!(described["Status"], json!(1), "{described}");
    assert!(described["OwnerUin"].is_string());
    let csr = described["CSR"].as_str().unwrap();
    let key = described["PrivateKey"].as_str().unwrap();
    assert!(key.contains("BEGIN PRIVATE KEY"));
    let csr_path = fx.dir.path().join("generated.csr");
    std::fs::write(&csr_path, csr).unwrap();
    let verify = Command::new("openssl").args(["req", "-noout", "-verify", "-subject", "-in"]).arg(&csr_path).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("csr.example.com"));

    let frozen = fx.call(&fx.alice, "ModifyCSR", &json!({ "CSRId": generated_id, "Generate": false, "City": "Beijing" })).await;
    assert_eq!(error_code(&frozen), Some("InvalidParameter.WithDetailReason"), "{frozen}");
    let modified = fx.call(&fx.alice, "ModifyCSR", &json!({ "CSRId": draft_id, "Generate": false, "City": "Beijing" })).await;
    assert_eq!(modified["Id"], json!(draft_id), "{modified}");
    let draft_now = fx.call(&fx.alice, "DescribeCSR", &json!({ "CSRId": draft_id })).await;
    assert_eq!(draft_now["City"], json!("Beijing"));
    assert_eq!(draft_now["Remarks"], json!("draft"));
    assert!(draft_now["CSR"].is_null());

    let foreign = fx.call(&fx.bob, "DescribeCSR", &json!({ "CSRId": draft_id })).await;
    assert_eq!(error_code(&foreign), Some("InvalidParameter.InvalidCSRId"));
    let set = fx.call(&fx.alice, "DescribeCSRSet", &json!({ "Limit": 1 })).await;
    assert_eq!(set["Total"], json!(2));
    assert_eq!(set["Set"].as_array().unwrap().len(), 1);
    let bob_set = fx.call(&fx.bob, "DescribeCSRSet", &json!({})).await;
    assert_eq!(bob_set["Total"], json!(0));

    let bob_delete = fx.call(&fx.bob, "BatchDeleteCSR", &json!({ "CSRIds": [draft_id] })).await;
    assert_eq!(bob_delete["Success"], json!([]));
    let deleted = fx.call(&fx.alice, "BatchDeleteCSR", &json!({ "CSRIds": [draft_id, generated_id] })).await;
    assert_eq!(deleted["Success"], json!([draft_id, generated_id]));

    let mut bad = fields.clone();
    bad["Generate"] = json!(true);
    bad["KeyParameter"] = json!("1024");
    let rejected = fx.call(&fx.alice, "CreateCSR", &bad).await;
    assert_eq!(error_code(&rejected), Some("InvalidParameter.WithDetailReason"));
}

#[tokio::test]
async fn deploy_actions_unsupported() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["deploy.example.com"], 90, "").await;
    for action in ["UpdateCertificateInstance", "DeployCertificateInstance", "DescribeHostClbInstanceList"] {
        let response = fx.call(&fx.alice, action, &json!({ "CertificateId": record.id })).await;
        assert_eq!(error_code(&response), Some("UnsupportedOperation"), "{action}");
        assert!(response["Error"]["Message"].as_str().unwrap().contains("self-hosted"));
    }
    let task = fx.call(&fx.alice, "CreateCertificateBindResourceSyncTask", &json!({ "CertificateIds": [record.id], "IsCache": 1 })).await;
    let task_id = task["CertTaskIds"][0]["TaskId"].as_str().unwrap().to_owned();
    let result = fx.call(&fx.alice, "DescribeCertificateBindResourceTaskResult", &json!({ "TaskIds": [task_id] })).await;
    assert_eq!(result["SyncTaskBindResourceResult"][0]["Status"], json!(1), "{result}");
    assert_eq!(result["SyncTaskBindResourceResult"][0]["BindResourceResult"], json!([]));
    let detail = fx.call(&fx.alice, "DescribeCertificateBindResourceTaskDetail", &json!({ "TaskId": "bind-x", "Limit": "10" })).await;
    assert_eq!(detail["CLB"], json!([]));
    let records = fx.call(&fx.alice, "DescribeHostDeployRecord", &json!({ "CertificateId": record.id })).await;
    assert_eq!(records["TotalCount"], json!(0));
    let foreign = fx.call(&fx.bob, "CreateCertificateBindResourceSyncTask", &json!({ "CertificateIds": [record.id], "IsCache": 1 })).await;
    assert_eq!(error_code(&foreign), Some("FailedOperation.CertificateNotFound"));
}

/// Everything a bad request could have changed.
async fn snapshot(fx: &Fixture, id: &str) -> (certkeeper_core::CertificateRecord, usize) {
    let record = fx.store.certificate(id).await.unwrap().unwrap();
    let log = fx.store.operation_log(id).await.unwrap();
    (record, log.len())
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let fx = fixture().await;
    let record = fx.issue(fx.alice.account_id, &["bad.example.com"], 90, "keep").await;
    let before = snapshot(&fx, &record.id).await;
    let id = record.id.as_str();
    let cases: Vec<(&str, String, &str)> = vec![
        ("ModifyCertificateAlias", json!({ "Alias": "x" }).to_string(), "MissingParameter"),
        ("ModifyCertificateAlias", json!({ "CertificateId": 5, "Alias": "x" }).to_string(), "FailedOperation.CertificateNotFound"),
        ("ModifyCertificateAlias", json!({ "CertificateId": [id], "Alias": "x" }).to_string(), "InvalidParameter"),
        ("ModifyCertificateAlias", json!({ "CertificateId": id, "Alias": { "a": 1 } }).to_string(), "InvalidParameter"),
        ("ModifyCertificateAlias", json!({ "CertificateId": id, "Alias": "x", "Extra": 1 }).to_string(), "UnknownParameter"),
        ("ModifyCertificateAlias", json!({ "CertificateId": id, "Alias": "x".repeat(201) }).to_string(), "InvalidParameterValue"),
        ("ModifyCertificateAlias", "[1, 2]".to_owned(), "InvalidParameter"),
        ("ModifyCertificateAlias", "{\"CertificateId\": ".to_owned(), "InvalidParameter"),
        ("ModifyCertificateProject", json!({ "CertificateIdList": [id] }).to_string(), "MissingParameter"),
        ("ModifyCertificateProject", json!({ "CertificateIdList": [id], "ProjectId": -1 }).to_string(), "InvalidParameter"),
        ("ModifyCertificateProject", json!({ "CertificateIdList": [id], "ProjectId": "seven" }).to_string(), "InvalidParameter"),
        ("ModifyCertificateProject", json!({ "CertificateIdList": id, "ProjectId": 1 }).to_string(), "InvalidParameter"),
        ("ModifyCertificateProject", json!({ "CertificateIdList": [], "ProjectId": 1 }).to_string(), "InvalidParameterValue"),
        ("DescribeCertificates", json!({ "Limit": "ten" }).to_string(), "InvalidParameter"),
        ("DescribeCertificates", json!({ "CertificateStatus": 1 }).to_string(), "InvalidParameter"),
        ("DescribeCertificates", json!({ "CertificateStatus": [99] }).to_string(), "InvalidParameterValue"),
        ("DescribeCertificates", json!({ "FilterSource": "stolen" }).to_string(), "InvalidParameterValue"),
        ("DescribeCertificates", json!({ "Deployable": 2 }).to_string(), "InvalidParameterValue"),
        ("DescribeCertificateDetail", json!({}).to_string(), "MissingParameter"),
        ("DescribeCertificate", json!({ "CertificateId": null }).to_string(), "MissingParameter"),
        ("DownloadCertificate", json!({ "CertificateId": true }).to_string(), "InvalidParameter"),
        ("DownloadCertificate", json!({ "CertId": id }).to_string(), "UnknownParameter"),
        ("DescribeDownloadCertificateUrl", json!({ "CertificateId": id, "ServiceType": 1 }).to_string(), "FailedOperation.CertificateDownloadServiceTypeNotSupport"),
        ("ApplyCertificate", json!({ "DomainName": "a.example.com" }).to_string(), "InvalidAction"),
    ];
    for (action, body, expected) in &cases {
        let response = fx.call_raw(&fx.alice, action, body).await;
        assert_eq!(error_code(&response), Some(*expected), "{action} {body}: {response}");
        assert!(response["RequestId"].is_string());
    }
    assert_eq!(snapshot(&fx, &record.id).await, before);
}

#[tokio::test]
async fn disabled_key_is_rejected() {
    let fx = fixture().await;
    assert!(fx.store.disable_api_key(&fx.bob.secret_id).await.unwrap());
    let response = fx.call(&fx.bob, "DescribeCertificates", &json!({})).await;
    assert_eq!(error_code(&response), Some("AuthFailure.InvalidSecretId"));
    let keys = fx.store.api_keys(fx.bob.account_id).await.unwrap();
    assert!(keys[0].disabled);
}
