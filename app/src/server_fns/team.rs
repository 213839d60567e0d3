use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::team::{InvitationOffer, OrganisationChoice, PendingInvitation, TeamMember};
use crate::model::Role;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamPageData {
    pub members: Vec<TeamMember>,
    pub invitations: Vec<PendingInvitation>,
    /// The signed-in member.
    pub me: String,
    pub my_role: Role,
    /// Invitations, role changes and removals need a verified address.
    pub verified: bool,
    pub now: i64,
}

#[server]
pub async fn team_overview() -> Result<TeamPageData, ServerFnError> {
    use super::ssr::{context, failed};
    use crate::domain::{members, team};

    let (member, services) = context()?;
    let now = services.now();
    let members = members::list_for_tenant(&services.db, &member.tenant_id)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|m| TeamMember {
            verified: m.email_verified_at.is_some(),
            id: m.id,
            email: m.email,
            role: m.role,
            created_at: m.created_at,
            last_sign_in_at: m.last_sign_in_at,
        })
        .collect();
    let invitations = team::pending_invitations(&services.db, &member.tenant_id, now)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|i| PendingInvitation {
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.created_by,
            expires_at: i.expires_at,
        })
        .collect();
    Ok(TeamPageData {
        members,
        invitations,
        verified: member.is_verified(),
        me: member.member_id,
        my_role: member.role,
        now,
    })
}

/// What the invitation behind `token` offers (no session needed: the
/// token is the proof).
#[server]
pub async fn invitation_details(token: String) -> Result<InvitationOffer, ServerFnError> {
    use super::ssr::{failed, services};

    let services = services()?;
    let view = crate::domain::team::view_invitation(&services.db, &token, services.now())
        .await
        .map_err(failed)?;
    Ok(InvitationOffer {
        organisation: view.organisation,
        email: view.email,
        role: view.role,
        existing_account: view.existing_account,
    })
}

/// The organisations the signed-in person belongs to (My account).
#[server]
pub async fn my_organisations() -> Result<Vec<OrganisationChoice>, ServerFnError> {
    use super::ssr::{context, failed};

    let (member, services) = context()?;
    Ok(
        crate::domain::members::organisations(&services.db, &member.email)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|(id, organisation, role)| OrganisationChoice {
                current: id == member.member_id,
                member_id: id,
                organisation,
                role,
            })
            .collect(),
    )
}
