//! The Tencent Cloud API endpoint (`POST /` and `GET /`) and its download links.

use std::sync::Arc;

use axum::Router;
use certkeeper_api::{ApiState, Services, StoreCredentials, download_router, ssl_actions};

use crate::bootstrap::Opened;
use crate::config::Effective;

/// Builds the API router, with the order actions on `orders`, and the download-link router,
/// merged.
///
/// The API router returns an API error for every path that no other route matches, so routers
/// merged with the result keep their own routes (`/healthz`, `/ca/...`).
pub fn router(
    opened: &Opened,
    effective: &Effective,
    issuers: Arc<Vec<certkeeper_store::IssuerRow>>,
    orders: certkeeper_ra::OrderService,
) -> Router {
    let services = Services::new(
        opened.store.clone(),
        Arc::clone(&opened.master_key),
        Arc::new(effective.catalogue.clone()),
        issuers,
        &effective.public_url,
    );
    let mut services = services.with_orders(orders);
    if effective.settings.upload.fetch_aia {
        match certkeeper_va::Validator::new(effective.settings.validation.clone(), &effective.settings.dns_auto) {
            Ok(validator) => {
                services.hosting =
                    certkeeper_ra::HostingService::new(opened.store.clone(), Arc::clone(&opened.master_key), Some(Arc::new(validator)));
            }
            Err(error) => tracing::error!(%error, "upload.fetch_aia is set but the validator cannot be built; caIssuers URLs are not fetched"),
        }
    }
    let services = Arc::new(services);
    let credentials = Arc::new(StoreCredentials::new(opened.store.clone(), Arc::clone(&opened.master_key)));
    let actions = Arc::new(ssl_actions(Arc::clone(&services)));
    let state = ApiState::new(credentials, actions);
    download_router(services).merge(certkeeper_api::router(state))
}
