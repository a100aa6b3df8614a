//! Deployment to cloud resources and resource binding.
//!
//! certkeeper is self-hosted and deploys nothing, so actions that would change cloud resources
//! return `UnsupportedOperation`, and the queries about bound or deployed resources return
//! empty results in the documented shapes.

use std::sync::Arc;

use serde_json::{Value, json};

use super::format::api_time;
use super::{ActionRegistry, Services};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

const UNSUPPORTED_MESSAGE: &str = "certkeeper is a self-hosted certificate service and does not deploy certificates to \
     Tencent Cloud resources; install the certificate on your servers with DownloadCertificate";

/// Most certificate ids or task ids one binding call may name.
const MAX_BIND_IDS: usize = 100;

const DEPLOY_INSTANCE: &[&str] = &["CertificateId", "InstanceIdList", "ResourceType", "Status", "IsCache"];
const RECORD_RETRY: &[&str] = &["DeployRecordId", "DeployRecordDetailId"];
const RECORD_ROLLBACK: &[&str] = &["DeployRecordId"];
const UPDATE_INSTANCE: &[&str] = &[
    "OldCertificateId",
    "ResourceTypes",
    "CertificateId",
    "Regions",
    "ResourceTypesRegions",
    "CertificatePublicKey",
    "CertificatePrivateKey",
    "ExpiringNotificationSwitch",
    "Repeatable",
    "AllowDownload",
    "Tags",
    "ProjectId",
];
const INSTANCE_LIST: &[&str] = &[
    "CertificateId",
    "ResourceType",
    "IsCache",
    "Filters",
    "OldCertificateId",
    "Offset",
    "Limit",
    "AsyncCache",
];
const INSTANCE_LIST_ACTIONS: [&str; 11] = [
    "DescribeHostApiGatewayInstanceList",
    "DescribeHostCdnInstanceList",
    "DescribeHostClbInstanceList",
    "DescribeHostCosInstanceList",
    "DescribeHostDdosInstanceList",
    "DescribeHostLighthouseInstanceList",
    "DescribeHostLiveInstanceList",
    "DescribeHostTeoInstanceList",
    "DescribeHostTkeInstanceList",
    "DescribeHostVodInstanceList",
    "DescribeHostWafInstanceList",
];
/// Resource types listed by DescribeCertificateBindResourceTaskDetail, each returned empty.
const BIND_RESOURCE_TYPES: [&str; 16] = [
    "CLB", "CDN", "WAF", "DDOS", "LIVE", "VOD", "TKE", "APIGATEWAY", "TCB", "TEO", "TSE", "COS", "TDMQ", "MQTT", "GAAP", "SCF",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("DeployCertificateInstance", DEPLOY_INSTANCE, unsupported);
    registry.register("DeployCertificateRecordRetry", RECORD_RETRY, unsupported);
    registry.register("DeployCertificateRecordRollback", RECORD_ROLLBACK, unsupported);
    registry.register("UpdateCertificateInstance", UPDATE_INSTANCE, unsupported);
    registry.register("UpdateCertificateRecordRetry", RECORD_RETRY, unsupported);
    registry.register("UpdateCertificateRecordRollback", RECORD_ROLLBACK, unsupported);
    registry.register("UploadUpdateCertificateInstance", UPDATE_INSTANCE, unsupported);
    registry.register("UploadUpdateCertificateRecordRetry", RECORD_RETRY, unsupported);
    registry.register("UploadUpdateCertificateRecordRollback", RECORD_ROLLBACK, unsupported);
    for action in INSTANCE_LIST_ACTIONS {
        registry.register(action, INSTANCE_LIST, unsupported);
    }

    registry.register("CreateCertificateBindResourceSyncTask", &["CertificateIds", "IsCache"], create_bind_task);
    registry.register("DescribeCertificateBindResourceTaskResult", &["TaskIds"], bind_task_result);
    registry.register(
        "DescribeCertificateBindResourceTaskDetail",
        &["TaskId", "Limit", "Offset", "ResourceTypes", "Regions"],
        bind_task_detail,
    );
    registry.register("DescribeDeployedResources", &["CertificateIds", "ResourceType"], deployed_resources);
    // NOTE: the output field names of the record queries below follow the Tencent Cloud SDK
    // models as far as known; no SDK run has checked them against certkeeper yet.
    registry.register("DescribeHostDeployRecord", &["CertificateId", "Offset", "Limit", "ResourceType"], empty_record_list);
    registry.register("DescribeHostUpdateRecord", &["Offset", "Limit", "CertificateId", "OldCertificateId"], empty_record_list);
    registry.register("DescribeHostUploadUpdateRecord", &["Offset", "Limit", "OldCertificateId"], empty_record_list);
    registry.register("DescribeHostDeployRecordDetail", &["DeployRecordId", "Offset", "Limit"], empty_record_detail);
    registry.register("DescribeHostUpdateRecordDetail", &["DeployRecordId", "Limit", "Offset"], empty_record_detail);
    registry.register("DescribeHostUploadUpdateRecordDetail", &["DeployRecordId", "Limit", "Offset"], empty_record_detail);
}

async fn unsupported(_services: Arc<Services>, _ctx: RequestContext, _params: Params) -> Result<Value, ApiError> {
    Err(ApiError::unsupported_operation(UNSUPPORTED_MESSAGE))
}

/// Returns the task id of a certificate's binding query. Every such task finishes at once with
/// no resources, so the id only has to name the certificate.
fn bind_task_id(certificate_id: &str) -> String {
    format!("bind-{certificate_id}")
}

fn check_id_count(name: &str, count: usize) -> Result<(), ApiError> {
    if count == 0 || count > MAX_BIND_IDS {
        return Err(ApiError::invalid_parameter_value(name, format!("give 1 to {MAX_BIND_IDS} ids, not {count}")));
    }
    Ok(())
}

async fn create_bind_task(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let ids = params.required_string_array("CertificateIds")?;
    let _cache: u64 = params.required("IsCache")?;
    check_id_count("CertificateIds", ids.len())?;
    let mut tasks = Vec::with_capacity(ids.len());
    for id in &ids {
        services.visible_certificate(&ctx, id).await?;
        tasks.push(json!({ "CertId": id, "TaskId": bind_task_id(id) }));
    }
    Ok(json!({ "CertTaskIds": tasks }))
}

async fn bind_task_result(services: Arc<Services>, _ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let task_ids = params.required_string_array("TaskIds")?;
    check_id_count("TaskIds", task_ids.len())?;
    let cache_time = api_time(services.now());
    let results: Vec<Value> = task_ids
        .iter()
        .map(|task_id| {
            json!({
                "TaskId": task_id,
                "BindResourceResult": [],
                "Status": 1,
                "Error": Value::Null,
                "CacheTime": cache_time,
            })
        })
        .collect();
    Ok(json!({ "SyncTaskBindResourceResult": results }))
}

async fn bind_task_detail(services: Arc<Services>, _ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    params.required_string("TaskId")?;
    params.optional_string("Limit")?;
    params.optional_string("Offset")?;
    params.optional_string_array("ResourceTypes")?;
    params.optional_string_array("Regions")?;
    let mut output = serde_json::Map::new();
    for resource_type in BIND_RESOURCE_TYPES {
        output.insert(resource_type.to_owned(), json!([]));
    }
    output.insert("Status".into(), json!(1));
    output.insert("CacheTime".into(), json!(api_time(services.now())));
    Ok(Value::Object(output))
}

async fn deployed_resources(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let ids = params.required_string_array("CertificateIds")?;
    let resource_type = params.required_string("ResourceType")?;
    check_id_count("CertificateIds", ids.len())?;
    let mut resources = Vec::with_capacity(ids.len());
    for id in &ids {
        services.visible_certificate(&ctx, id).await?;
        resources.push(json!({
            "CertificateId": id,
            "Count": 0,
            "Type": resource_type,
            "ResourceIds": [],
            "Resources": [],
        }));
    }
    Ok(json!({ "DeployedResources": resources }))
}

async fn empty_record_list(_services: Arc<Services>, _ctx: RequestContext, _params: Params) -> Result<Value, ApiError> {
    Ok(json!({ "DeployRecordList": [], "TotalCount": 0 }))
}

async fn empty_record_detail(_services: Arc<Services>, _ctx: RequestContext, _params: Params) -> Result<Value, ApiError> {
    Ok(json!({
        "DeployRecordDetailList": [],
        "TotalCount": 0,
        "SuccessTotalCount": 0,
        "FailedTotalCount": 0,
        "RunningTotalCount": 0,
    }))
}
