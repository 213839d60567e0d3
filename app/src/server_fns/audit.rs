use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::audit::{AuditListing, AuditQuery};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPageData {
    /// Shared with every request for the same page while the trail has not
    /// grown (this second).
    pub listing: Arc<AuditListing>,
    pub query: AuditQuery,
}

/// One page of the audit trail (owners and admins only).
#[server]
pub async fn audit_overview(query: AuditQuery) -> Result<AuditPageData, ServerFnError> {
    use super::ssr::{context, failed};
    use crate::domain::{audit, Error};

    let (member, services) = context()?;
    if !member.role.can_manage() {
        return Err(failed(Error::Forbidden(
            "Only owners and admins can read the audit trail.".into(),
        )));
    }
    let (filter, before) = audit::parse_query(&query).map_err(failed)?;
    let listing = audit::listing_recent(
        &services.db,
        &member.tenant_id,
        &filter,
        before,
        services.now(),
    )
    .await
    .map_err(failed)?;
    Ok(AuditPageData { listing, query })
}
