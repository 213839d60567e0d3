//! `POST /login` and `POST /logout`: plain form posts, so signing in works
//! without JavaScript.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use tower_sessions::Session;

use app::domain::sign_in::{self, Attempt, SignedIn};
use app::domain::Error;
use app::model::forms::LoginFormState;
use app::session::safe_next;

use super::form::FormPage;
use crate::http::error::{ApiError, PageError};
use crate::http::extract::{ClientIp, SameOrigin};
use crate::sessions::{LAST_SEEN, MEMBER_ID, SESSION_EPOCH, SIGNED_IN_AT};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn sign_in(
    State(state): State<AppState>,
    _: SameOrigin,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let attempt = Attempt {
        email: &form.email,
        password: &form.password,
        client: &ip,
    };
    let signed_in = sign_in::sign_in(&state.db, attempt, state.now()).await;
    let outcome = match &signed_in {
        Ok(_) => "success",
        Err(Error::InvalidCredentials | Error::Invalid(_)) => "failure",
        Err(Error::SignInThrottled { .. }) => "throttled",
        Err(Error::Busy { .. }) => "busy",
        Err(_) => "error",
    };
    metrics::counter!("portal_sign_ins_total", "outcome" => outcome).increment(1);
    // A failure shows the form again, with the message and the e-mail typed.
    let form_page = FormPage {
        state: &state,
        member: None,
        path: format!(
            "/login?next={}",
            utf8_percent_encode(&next, NON_ALPHANUMERIC)
        ),
    };
    let signed_in = form_page
        .or_show(signed_in, |problem| LoginFormState {
            error: Some(problem.message.clone()),
            email: form.email,
            notice: None,
        })
        .await?;
    start_session(&session, &signed_in, state.now(), state.now()).await?;
    Ok(Redirect::to(&next).into_response())
}

/// Makes `session` the signed-in member's, `signed_in_at` (the session's
/// absolute lifetime counts from the password, so moving to another
/// organisation of the same person keeps the time of the sign-in).
pub async fn start_session(
    session: &Session,
    who: &SignedIn,
    signed_in_at: i64,
    now: i64,
) -> Result<(), PageError> {
    // A new id at every sign-in: a session id planted before cannot be reused.
    session.cycle_id().await.map_err(internal)?;
    session
        .insert(SIGNED_IN_AT, signed_in_at)
        .await
        .map_err(internal)?;
    session
        .insert(MEMBER_ID, &who.member_id)
        .await
        .map_err(internal)?;
    session
        .insert(SESSION_EPOCH, who.session_epoch)
        .await
        .map_err(internal)?;
    session.insert(LAST_SEEN, now).await.map_err(internal)?;
    Ok(())
}

pub async fn sign_out(_: SameOrigin, session: Session) -> Result<Response, ApiError> {
    session.flush().await.map_err(ApiError::internal)?;
    Ok(Redirect::to("/login").into_response())
}

pub fn internal(e: tower_sessions::session::Error) -> PageError {
    PageError::Problem(app::domain::Problem::internal(&e))
}
