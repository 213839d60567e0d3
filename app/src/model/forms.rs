//! Form contracts: what a failed form post hands back to the page it
//! re-renders (the values typed, the problems beside their fields), and what
//! a successful one shows once. The server's handlers fill them in; the
//! pages read them from the render's context.

use serde::{Deserialize, Serialize};

/// Problems with a form's input, each beside its field (`field` = the
/// input's `name`; `None` for the form as a whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<(Option<String>, String)>);

impl FieldErrors {
    /// One problem with the form as a whole.
    pub fn general(message: impl Into<String>) -> Self {
        FieldErrors(vec![(None, message.into())])
    }

    /// One problem with one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        FieldErrors(vec![(Some(field.to_owned()), message.into())])
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((Some(field.to_owned()), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems of `field`, joined.
    pub fn of(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .0
            .iter()
            .filter(|(f, _)| f.as_deref() == Some(field))
            .map(|(_, m)| m.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }

    /// Problems not tied to one of `fields` (shown above the form).
    pub fn other_than(&self, fields: &[&str]) -> Option<String> {
        let messages: Vec<&str> = self
            .0
            .iter()
            .filter(|(f, _)| f.as_deref().is_none_or(|f| !fields.contains(&f)))
            .map(|(_, m)| m.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<&str> = self.0.iter().map(|(_, m)| m.as_str()).collect();
        f.write_str(&messages.join(" "))
    }
}

/// What the sign-in form post hands back to the page when it fails.
#[derive(Debug, Clone, Default)]
pub struct LoginFormState {
    pub error: Option<String>,
    pub email: String,
    /// Good news to show above the form (a password was reset...).
    pub notice: Option<String>,
}

/// A form of the sign-up, password and invitation pages, handed back: the
/// values typed (never passwords) and the problems; or, when it went
/// through, what to tell the person.
#[derive(Debug, Clone, Default)]
pub struct AuthFormState {
    pub values: Vec<(&'static str, String)>,
    pub errors: FieldErrors,
    pub done: Option<String>,
}

impl AuthFormState {
    pub fn value(&self, name: &str) -> String {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// What a team or account form post hands back: the problem, or what was done.
#[derive(Debug, Clone, Default)]
pub struct SettingsOutcome {
    pub form: &'static str,
    pub errors: FieldErrors,
    pub done: Option<String>,
    pub values: Vec<(&'static str, String)>,
}

/// The create form as posted, handed back with the problems when it fails.
#[derive(Debug, Clone, Default)]
pub struct AgentFormState {
    pub name: String,
    pub agent_type: String,
    pub version: String,
    pub capabilities: String,
    pub owner: String,
    pub environment: String,
    /// `never` or the number of days.
    pub secret_expires: String,
    /// Absolute URIs as typed.
    pub resources: String,
    pub errors: FieldErrors,
    /// The error is the tier's agent limit: link to the plan.
    pub limit_reached: bool,
}

/// A client secret to show once: right after creation or rotation.
#[derive(Debug, Clone)]
pub struct RevealedSecret {
    pub secret: String,
    /// Its label (`ais_…a1b2`), as the credentials table lists it.
    pub label: String,
    /// After a rotation: until when the previous secret keeps working.
    pub previous_until: Option<i64>,
    pub rotated: bool,
}

/// An action on the agent that was refused, to show on the page.
#[derive(Debug, Clone)]
pub struct AgentActionError(pub String);

/// The agent's resources as posted, handed back with their problem.
#[derive(Debug, Clone, Default)]
pub struct AgentResourcesForm {
    pub resources: String,
    pub errors: FieldErrors,
}

/// The time-zone form as posted, handed back with its problem.
#[derive(Debug, Clone, Default)]
pub struct TimeZoneFormState {
    pub value: String,
    pub errors: FieldErrors,
}

/// Why the last billing action failed (Stripe unreachable or refusing),
/// shown on the page the form post answers with.
#[derive(Debug, Clone)]
pub struct BillingProblem(pub String);
