//! Capabilities and scopes: `resource:action` pairs, lower-case. An agent's
//! capabilities bound what its tokens may carry; `resource:*` covers every
//! action of that resource, and nothing else.

use super::{Error, Result};

/// `resource:action`: lower-case letters, digits, `_ - .`; the action may
/// be `*` (every action of the resource).
pub fn is_capability(s: &str) -> bool {
    let word = |part: &str| {
        !part.is_empty()
            && part.len() <= 64
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c))
    };
    match s.split_once(':') {
        Some((resource, action)) => word(resource) && (action == "*" || word(action)),
        None => false,
    }
}

/// Whether holding `have` allows `want`; both must be well-formed.
pub fn covers(have: &str, want: &str) -> bool {
    if !is_capability(have) || !is_capability(want) {
        return false;
    }
    have == want
        || match (have.split_once(':'), want.split_once(':')) {
            (Some((r, "*")), Some((wr, _))) => r == wr,
            _ => false,
        }
}

/// The scope a token gets: the requested one when every part is covered by
/// a capability, or all capabilities when none is asked.
pub fn granted(capabilities: &[String], requested: Option<&str>) -> Result<String> {
    let requested: Vec<&str> = requested
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return Ok(capabilities.join(" "));
    }
    if let Some(bad) = requested.iter().find(|want| !is_capability(want)) {
        return Err(Error::InvalidScope(format!(
            "{bad:?} is not of the form resource:action"
        )));
    }
    if let Some(bad) = requested
        .iter()
        .find(|want| !capabilities.iter().any(|have| covers(have, want)))
    {
        return Err(Error::InvalidScope(format!(
            "{bad:?} is not among the agent's capabilities"
        )));
    }
    let mut granted: Vec<&str> = Vec::new();
    for s in requested {
        if !granted.contains(&s) {
            granted.push(s);
        }
    }
    Ok(granted.join(" "))
}

/// Whether a token's `scope` (space-separated) allows `needed`.
pub fn allows(scope: &str, needed: &str) -> bool {
    scope.split_whitespace().any(|have| covers(have, needed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_resource_action_pairs() {
        for ok in ["tokens:read", "agents:write", "files.v2:read", "billing:*"] {
            assert!(is_capability(ok), "{ok}");
        }
        for bad in [
            "tokens",
            ":read",
            "tokens:",
            "Tokens:Read",
            "a:b:c",
            "*:read",
            "tok ens:read",
            "files:re*d",
            "files:x:admin",
        ] {
            assert!(!is_capability(bad), "{bad}");
        }
    }

    #[test]
    fn a_wildcard_covers_its_resource_actions_only() {
        assert!(covers("files:*", "files:read"));
        assert!(covers("files:*", "files:*"));
        assert!(!covers("files:*", "files:x:admin"));
        assert!(!covers("files:*", "filesx:read"));
        assert!(!covers("files:read", "files:*"));
        assert!(!covers("files:read", "files:write"));
        assert!(allows("tickets:read analytics:*", "analytics:read"));
        assert!(!allows("files:read", "analytics:read"));
    }

    #[test]
    fn requested_scopes_must_be_well_formed_and_covered() {
        let caps = vec!["files:*".to_owned(), "tickets:read".to_owned()];
        assert_eq!(granted(&caps, None).unwrap(), "files:* tickets:read");
        assert_eq!(
            granted(&caps, Some("files:read files:read")).unwrap(),
            "files:read"
        );
        for bad in ["files:x:admin", "tickets:write", "FILES:read", "*:read"] {
            assert!(
                matches!(granted(&caps, Some(bad)), Err(Error::InvalidScope(_))),
                "{bad}"
            );
        }
    }
}
