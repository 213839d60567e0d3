//! What makes a new agent acceptable, field by field.

use super::NewAgent;
use crate::domain::scopes::is_capability;
use crate::domain::{Error, Result};
use crate::model::{Environment, FieldErrors, SecretExpiry};

/// A validated `NewAgent`, or every problem found, field by field.
#[derive(Debug, Clone)]
pub(super) struct ValidAgent {
    pub(super) name: String,
    pub(super) agent_type: String,
    pub(super) version: String,
    pub(super) capabilities: Vec<String>,
    pub(super) owner: String,
    pub(super) environment: Environment,
    pub(super) expiry: SecretExpiry,
    pub(super) resources: Vec<String>,
}

pub(super) fn validate(new: NewAgent) -> Result<ValidAgent> {
    let mut problems = FieldErrors::default();
    let mut text = |value: String, field: &str, label: &str, max: usize| {
        let value = value.trim().to_owned();
        if value.is_empty() {
            problems.push(field, format!("{label} is required."));
        } else if value.chars().any(char::is_control) {
            problems.push(
                field,
                format!("{label} must not contain control characters."),
            );
        } else if value.chars().count() > max {
            problems.push(field, format!("{label} must be at most {max} characters."));
        }
        value
    };
    let name = text(new.name, "name", "Name", 100);
    let agent_type = text(new.agent_type, "agent_type", "Agent type", 50);
    let version = text(new.version, "version", "Version", 30);
    let owner = text(new.owner, "owner", "Owner", 100);
    let environment = new.environment.parse::<Environment>().unwrap_or_else(|e| {
        problems.push("environment", format!("Environment: {e}."));
        Environment::Development
    });
    let expiry = new
        .secret_expires
        .parse::<SecretExpiry>()
        .unwrap_or_else(|e| {
            problems.push("secret_expires", e);
            SecretExpiry::Never
        });
    let capabilities = match parse_capabilities(&new.capabilities) {
        Ok(c) => c,
        Err(message) => {
            problems.push("capabilities", message);
            Vec::new()
        }
    };
    let resources = parse_resources(&new.resources).unwrap_or_else(|message| {
        problems.push("resources", message);
        Vec::new()
    });
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    Ok(ValidAgent {
        resources,
        name,
        agent_type,
        version,
        capabilities,
        owner,
        environment,
        expiry,
    })
}

/// `resource:action` pairs separated by spaces, commas or new lines;
/// duplicates dropped, case folded.
fn parse_capabilities(raw: &[String]) -> std::result::Result<Vec<String>, String> {
    let mut capabilities: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for cap in raw.iter().flat_map(|c| c.split([' ', ',', '\n'])) {
        let cap = cap.trim().to_lowercase();
        if cap.is_empty() || capabilities.contains(&cap) {
            continue;
        }
        if !is_capability(&cap) {
            bad.push(format!("{cap:?}"));
        }
        capabilities.push(cap);
    }
    if !bad.is_empty() {
        Err(format!(
            "{} not of the form resource:action (lower-case letters, digits, _ - .).",
            if bad.len() == 1 {
                format!("Capability {} is", bad[0])
            } else {
                format!("Capabilities {} are", bad.join(", "))
            }
        ))
    } else if capabilities.is_empty() {
        Err("At least one capability (resource:action) is required.".into())
    } else if capabilities.len() > 50 {
        Err("At most 50 capabilities.".into())
    } else {
        Ok(capabilities)
    }
}

/// At most this many resources per agent.
pub const MAX_RESOURCES: usize = 20;

/// Resource indicators (RFC 8707 §2): absolute `https` (or `http`) URIs
/// without a fragment, separated by spaces, commas or new lines; kept as
/// written (a resource server compares `aud` with its own identifier
/// exactly), duplicates dropped.
pub fn parse_resources(raw: &str) -> std::result::Result<Vec<String>, String> {
    let mut resources: Vec<String> = Vec::new();
    for resource in raw
        .split([' ', ',', '\n', '\r', '\t'])
        .filter(|r| !r.is_empty())
    {
        check_resource(resource)?;
        if !resources.iter().any(|r| r == resource) {
            resources.push(resource.to_owned());
        }
    }
    if resources.len() > MAX_RESOURCES {
        return Err(format!("At most {MAX_RESOURCES} resources."));
    }
    Ok(resources)
}

/// One resource indicator, as a token request or the agent's list names it.
pub fn check_resource(resource: &str) -> std::result::Result<(), String> {
    let shown: String = resource.chars().take(80).collect();
    if resource.len() > 2000 {
        return Err(format!(
            "Resource {shown:?}… is longer than 2,000 characters."
        ));
    }
    // RFC 3986 URIs are printable ASCII; the URL parser would quietly
    // encode or drop anything else, and the list is kept as written.
    if !resource.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "Resource {shown:?} may hold only printable ASCII (percent-encode the rest)."
        ));
    }
    let url = url::Url::parse(resource)
        .map_err(|_| format!("Resource {shown:?} is not an absolute URI (https://…)."))?;
    if !matches!(url.scheme(), "https" | "http") || !url.has_host() {
        return Err(format!(
            "Resource {shown:?} must be an https:// (or http://) URI with a host."
        ));
    }
    if resource.contains('#') {
        return Err(format!("Resource {shown:?} must not have a fragment (#…)."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_is_reported_beside_its_field() {
        let Err(Error::Invalid(fields)) = validate(NewAgent {
            name: "ok".into(),
            capabilities: vec!["Bad tickets:read".into()],
            ..Default::default()
        }) else {
            panic!("accepted");
        };
        assert!(fields.of("name").is_none());
        assert!(fields.of("owner").unwrap().contains("Owner is required"));
        assert!(fields.of("capabilities").unwrap().contains("\"bad\""));
    }

    #[test]
    fn resources_are_absolute_uris_kept_as_written() {
        assert_eq!(
            parse_resources(
                "https://api.example.com\nhttps://files.example.com/v1, https://api.example.com"
            )
            .unwrap(),
            ["https://api.example.com", "https://files.example.com/v1"]
        );
        assert_eq!(parse_resources("  ").unwrap(), Vec::<String>::new());
        for bad in [
            "api.example.com",
            "/relative",
            "https://api.example.com/#frag",
            "mailto:ops@example.com",
            "ftp://files.example.com",
            "https://a.example/\u{a0}https://b.example",
            "https://a.example/\u{b}",
        ] {
            assert!(parse_resources(bad).is_err(), "{bad} accepted");
        }
        let many: Vec<String> = (0..=MAX_RESOURCES)
            .map(|i| format!("https://r{i}.example.com"))
            .collect();
        assert!(parse_resources(&many.join(" ")).is_err());
    }

    #[test]
    fn validation_reports_every_problem() {
        let err = validate(NewAgent {
            environment: "prod".into(),
            capabilities: vec!["nope".into()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        for expected in [
            "Name is required",
            "Agent type is required",
            "Version is required",
            "Owner is required",
            "Environment",
            "nope",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
    }
}
