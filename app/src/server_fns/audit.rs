use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::audit::{AuditPage, AuditQuery};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPageData {
    pub page: AuditPage,
    /// Suggestions for the actor filter: the members, Stripe, the operator
    /// (a former member's address can still be typed).
    pub actors: Vec<String>,
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
    let page = audit::list(
        &services.db,
        &member.tenant_id,
        &filter,
        before,
        audit::PAGE_SIZE,
    )
    .await
    .map_err(failed)?;
    let mut actors: Vec<String> =
        crate::domain::members::list_for_tenant(&services.db, &member.tenant_id)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|m| m.email)
            .collect();
    actors.extend(["Stripe".to_owned(), "operator".to_owned()]);
    Ok(AuditPageData {
        page,
        actors,
        query,
    })
}
