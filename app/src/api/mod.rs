//! Server functions: thin, they authenticate, call the domain and map errors.

pub mod agents;
pub mod analytics;
pub mod tier;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use leptos::prelude::*;

    use crate::domain::Services;
    use crate::model::CurrentMember;

    /// The signed-in member (the auth guard has checked the session) and the
    /// server's services.
    pub fn context() -> Result<(CurrentMember, Services), ServerFnError> {
        let member =
            crate::session::current_member().ok_or_else(|| ServerFnError::new("Sign in first."))?;
        let services = use_context::<Services>()
            .ok_or_else(|| ServerFnError::new("services missing from context"))?;
        Ok((member, services))
    }

    pub fn internal(e: crate::domain::Error) -> ServerFnError {
        tracing::error!(error = %e, "server function failed");
        ServerFnError::new(e.to_string())
    }
}
