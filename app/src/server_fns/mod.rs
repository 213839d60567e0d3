//! Server functions: thin, they authenticate, call the domain and answer a
//! failure with its classified, safe message.

pub mod agents;
pub mod analytics;
pub mod audit;
pub mod team;
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
        Ok((member, services()?))
    }

    pub fn services() -> Result<Services, ServerFnError> {
        use_context::<Services>().ok_or_else(|| {
            failed(crate::domain::Error::Internal(
                "services missing from context".into(),
            ))
        })
    }

    /// A domain error as the server function's error: its safe message (the
    /// details of our own failures are logged under the id it names). The
    /// page that called it, or the function's own response, answers with
    /// the error's status (a bad filter in the address is a 400, not a 200).
    pub fn failed(e: crate::domain::Error) -> ServerFnError {
        let problem = e.classify();
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(problem.status);
        }
        ServerFnError::new(problem.message)
    }
}
