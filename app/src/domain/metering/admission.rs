//! The admission decision, pure: given where each tenant stands today and a
//! batch of requests in arrival order, who is admitted and what is counted.

use std::collections::HashMap;

use jiff::civil;

use super::{Admission, Counts, Quota, UsageKind};
use crate::model::tiers::TierLimits;

/// A tenant's standing for today, as read (and locked) by the writer.
#[derive(Debug, Clone)]
pub struct TenantDay {
    pub tier: crate::model::Tier,
    pub limits: TierLimits,
    pub tokens_issued: u64,
    pub api_calls: u64,
    /// Today in the tenant's time zone: where analytics files the batch.
    pub local_date: civil::Date,
}

impl TenantDay {
    fn used(&mut self, kind: UsageKind) -> &mut u64 {
        match kind {
            UsageKind::TokenIssued => &mut self.tokens_issued,
            UsageKind::ApiCall => &mut self.api_calls,
        }
    }
}

/// One request of a batch.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub tenant_id: &'a str,
    pub agent_id: &'a str,
    pub kind: UsageKind,
}

/// What a batch decided: one admission per request (in order), and the
/// counts to add per (tenant, agent).
#[derive(Debug, Default)]
pub struct Decided<'a> {
    pub admissions: Vec<Admission>,
    pub per_agent: HashMap<(&'a str, &'a str), Counts>,
}

/// Admits requests in order while the tenant's daily limit of their kind
/// allows, counting refusals too; `tenants` is updated to the new standing.
/// A request of a tenant missing from `tenants` is a bug of the caller.
pub fn decide<'a>(
    requests: impl IntoIterator<Item = Request<'a>>,
    tenants: &mut HashMap<String, TenantDay>,
    reset_at: i64,
) -> Result<Decided<'a>, String> {
    let mut decided = Decided::default();
    for r in requests {
        let day = tenants
            .get_mut(r.tenant_id)
            .ok_or_else(|| format!("no counters for tenant {}", r.tenant_id))?;
        let limit = r.kind.limit(&day.limits);
        let used = day.used(r.kind);
        let admitted = limit.is_none_or(|l| *used < l);
        if admitted {
            *used += 1;
        }
        decided
            .per_agent
            .entry((r.tenant_id, r.agent_id))
            .or_default()
            .merge(Counts::one(r.kind, admitted));
        let quota = Quota {
            limit,
            remaining: limit.map(|l| l.saturating_sub(*used)),
            reset_at,
        };
        decided.admissions.push(if admitted {
            Admission::Admitted(quota)
        } else {
            Admission::Refused(quota)
        });
    }
    Ok(decided)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;

    fn day(tier: Tier, tokens: u64, calls: u64) -> TenantDay {
        TenantDay {
            tier,
            limits: TierLimits::of(tier),
            tokens_issued: tokens,
            api_calls: calls,
            local_date: civil::date(2026, 11, 26),
        }
    }

    fn token(tenant: &str) -> Request<'_> {
        Request {
            tenant_id: tenant,
            agent_id: "agent",
            kind: UsageKind::TokenIssued,
        }
    }

    #[test]
    fn exactly_what_is_left_is_admitted_and_the_rest_counted_as_refused() {
        let mut tenants = HashMap::from([("t".to_owned(), day(Tier::Free, 990, 0))]);
        let d = decide((0..64).map(|_| token("t")), &mut tenants, 100).unwrap();
        let admitted = d
            .admissions
            .iter()
            .filter(|a| matches!(a, Admission::Admitted(_)))
            .count();
        assert_eq!(admitted, 10);
        // Arrival order decides: the first ten get in.
        assert!(matches!(d.admissions[9], Admission::Admitted(q) if q.remaining == Some(0)));
        assert!(matches!(d.admissions[10], Admission::Refused(q) if q.limit == Some(1_000)));
        let counts = d.per_agent[&("t", "agent")];
        assert_eq!((counts.tokens_issued, counts.refused), (10, 54));
        assert_eq!(tenants["t"].tokens_issued, 1_000);
    }

    #[test]
    fn each_kind_has_its_own_limit_and_tenants_do_not_share() {
        let mut tenants = HashMap::from([
            ("full".to_owned(), day(Tier::Free, 1_000, 0)),
            ("other".to_owned(), day(Tier::Free, 0, 0)),
        ]);
        let call = Request {
            tenant_id: "full",
            agent_id: "agent",
            kind: UsageKind::ApiCall,
        };
        let d = decide([token("full"), call, token("other")], &mut tenants, 100).unwrap();
        assert!(matches!(d.admissions[0], Admission::Refused(_)));
        assert!(matches!(d.admissions[1], Admission::Admitted(q) if q.remaining == Some(999)));
        assert!(matches!(d.admissions[2], Admission::Admitted(_)));
    }

    #[test]
    fn unlimited_tiers_are_never_refused() {
        let mut tenants = HashMap::from([("t".to_owned(), day(Tier::Enterprise, u64::MAX - 1, 0))]);
        let d = decide([token("t")], &mut tenants, 7).unwrap();
        assert_eq!(
            d.admissions,
            [Admission::Admitted(Quota {
                limit: None,
                remaining: None,
                reset_at: 7
            })]
        );
    }

    #[test]
    fn a_tenant_without_counters_is_an_error() {
        assert!(decide([token("ghost")], &mut HashMap::new(), 0).is_err());
    }
}
