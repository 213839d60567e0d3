//! Sign-up, e-mail verification, forgotten passwords (public), and the
//! member's own account: resend the verification, change the password,
//! sign out everywhere. Plain form posts answered with pages.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::provide_context;
use serde::Deserialize;
use tower_sessions::Session;

use app::domain::signup::{self, SignUp, Verified};
use app::domain::{account, Error, Problem};
use app::model::forms::{AuthFormState, LoginFormState};

use super::form::{page, settings_answer, FormPage};
use super::sign_in::internal;
use crate::http::error::PageError;
use crate::http::extract::{ClientIp, Member, SameOrigin};
use crate::sessions::{SESSION_EPOCH, SIGNED_IN_AT};
use crate::state::AppState;

const VERIFY: &str = "/verify-email";
const RESET: &str = "/reset-password";

/// Renders the public page at `path` with `state` as its form's state.
async fn auth_page(
    state: &AppState,
    path: &str,
    form: AuthFormState,
    status: StatusCode,
) -> Result<Response, PageError> {
    page(
        state,
        None,
        path,
        move || provide_context(form.clone()),
        status,
    )
    .await
}

fn problem_state(problem: &Problem, values: Vec<(&'static str, String)>) -> AuthFormState {
    AuthFormState {
        values,
        errors: problem.field_errors(),
        done: None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignUpForm {
    organisation: String,
    email: String,
    password: String,
}

pub async fn sign_up(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignUpForm>,
) -> Result<Response, PageError> {
    let attempt = SignUp {
        organisation: &form.organisation,
        email: &form.email,
        password: &form.password,
        client_ip: &ip,
    };
    let result = signup::sign_up(&state.db, attempt, &state.outbox, state.now()).await;
    let values = vec![
        ("organisation", form.organisation.clone()),
        ("email", form.email.clone()),
    ];
    FormPage {
        state: &state,
        member: None,
        path: "/signup".into(),
    }
    .or_show(result, |p| problem_state(p, values))
    .await?;
    // The same answer whether the address was new or not.
    let done = format!(
        "We sent a message to {}. Open the link in it to verify your address: your \
         organisation is created then, and you are signed in.",
        form.email.trim().to_lowercase()
    );
    let answer = AuthFormState {
        values: vec![("email", form.email.trim().to_lowercase())],
        errors: Default::default(),
        done: Some(done),
    };
    auth_page(&state, "/signup", answer, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerifyForm {
    token: String,
    /// A sign-up's link: the password chosen at sign-up.
    password: String,
    /// A sign-up's link: the organisation's name (the one signed up with
    /// may have been taken since).
    organisation: Option<String>,
}

/// The page an e-mailed link opens: `page` with its `token`.
fn link_page(page: &str, token: &str) -> String {
    format!(
        "{page}?token={}",
        percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
    )
}

/// The `token` of a link's address (empty when there is none).
fn token_of(query: Option<&str>) -> String {
    query
        .and_then(|q| super::url_query_value(q, "token"))
        .unwrap_or_default()
}

/// The verification page's form: a sign-up's link asks for the password
/// chosen at sign-up and shows the organisation it creates (`organisation`
/// as typed, else as signed up); a member's link is a button.
async fn verify_form(
    state: &AppState,
    token: &str,
    organisation: Option<String>,
) -> Result<AuthFormState, PageError> {
    let pending = signup::pending_organisation(&state.db, token, state.now()).await?;
    let values = match pending {
        Some(signed_up_as) => vec![
            ("signup", "yes".to_owned()),
            ("organisation", organisation.unwrap_or(signed_up_as)),
        ],
        None => vec![],
    };
    Ok(AuthFormState {
        values,
        ..Default::default()
    })
}

pub async fn verify_email_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let token = token_of(query.as_deref());
    let form = verify_form(&state, &token, None).await?;
    auth_page(&state, &link_page(VERIFY, &token), form, StatusCode::OK).await
}

pub async fn verify_email(
    State(state): State<AppState>,
    _: SameOrigin,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<VerifyForm>,
) -> Result<Response, PageError> {
    let verification = signup::Verification {
        token: &form.token,
        password: &form.password,
        organisation: form.organisation.as_deref(),
        signup_open: state.signup_open,
        client_ip: &ip,
    };
    let result = signup::verify_email(&state.db, verification, state.now()).await;
    let again = match &result {
        Err(_) => verify_form(&state, &form.token, form.organisation.clone()).await?,
        Ok(_) => AuthFormState::default(),
    };
    let verified = FormPage {
        state: &state,
        member: None,
        path: link_page(VERIFY, &form.token),
    }
    .or_show(result, |p| problem_state(p, again.values.clone()))
    .await?;
    let done = match verified {
        Verified::SignedUp(who) => {
            super::sign_in::start_session(&session, &who, state.now(), state.now()).await?;
            "Your address is verified and your organisation is ready: you are signed in."
        }
        Verified::AddressProven => {
            "Your address is verified: you can now register agents and change settings."
        }
    };
    let answer = AuthFormState {
        done: Some(done.into()),
        ..Default::default()
    };
    auth_page(&state, VERIFY, answer, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot_password(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    let now = state.now();
    let admitted = account::admit_reset_request(&state.db, &form.email, &ip, now).await;
    let email = FormPage {
        state: &state,
        member: None,
        path: "/forgot-password".into(),
    }
    .or_show(admitted, |p| {
        problem_state(p, vec![("email", form.email.clone())])
    })
    .await?;
    // After the answer: how long it takes must not tell whether the
    // address has an account.
    let (db, outbox, address) = (state.db.clone(), state.outbox.clone(), email.clone());
    tokio::spawn(async move {
        if let Err(e) = account::send_reset_link(&db, &address, &ip, &outbox, now).await {
            Problem::internal(&e);
        }
    });
    let answer = AuthFormState {
        done: Some(format!(
            "If {email} has an account, we sent it a link to choose a new password. The link \
             works once, for one hour."
        )),
        ..Default::default()
    };
    auth_page(&state, "/forgot-password", answer, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    token: String,
    password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientIp(ip): ClientIp,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    let result =
        account::reset_password(&state.db, &form.token, &form.password, &ip, state.now()).await;
    let path = link_page(RESET, &form.token);
    FormPage {
        state: &state,
        member: None,
        path,
    }
    .or_show(result, |p| problem_state(p, vec![]))
    .await?;
    let notice = LoginFormState {
        notice: Some(
            "Your password was changed and every session ended. Sign in with the new password."
                .into(),
        ),
        ..Default::default()
    };
    page(
        &state,
        None,
        "/login",
        move || provide_context(notice.clone()),
        StatusCode::OK,
    )
    .await
}

/// A reset link's page says at once when the link no longer works (used,
/// expired, replaced), instead of a form that can only fail on submit.
pub async fn reset_password_page(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let token = token_of(query.as_deref());
    let path = link_page(RESET, &token);
    let (form, status) = match account::reset_link_email(&state.db, &token, state.now()).await {
        Ok(_) => (AuthFormState::default(), StatusCode::OK),
        Err(e) => {
            let problem = e.classify();
            if problem.status.is_server_error() {
                return Err(PageError::Problem(problem));
            }
            (problem_state(&problem, vec![]), problem.status)
        }
    };
    auth_page(&state, &path, form, status).await
}

pub async fn resend_verification(
    State(state): State<AppState>,
    _: SameOrigin,
    Member(member): Member,
) -> Result<Response, PageError> {
    let result = signup::resend_verification(&state.db, &member, &state.outbox, state.now())
        .await
        .map(|()| format!("We sent a new link to {}.", member.email));
    settings_answer(&state, member, ACCOUNT, "verification", result, vec![]).await
}

/// The member's own page, which answers its forms.
const ACCOUNT: &str = "/settings/account";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    _: SameOrigin,
    session: Session,
    ClientIp(ip): ClientIp,
    Member(member): Member,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let result = account::change_password(
        &state.db,
        &member,
        &form.current_password,
        &form.password,
        &ip,
        state.now(),
    )
    .await;
    let (result, member) = match result {
        Ok(epoch) => {
            // This session lives on, under a new id (one read before the
            // change is worth nothing now); every other one ended with the
            // old epoch.
            session.cycle_id().await.map_err(internal)?;
            session
                .insert(SESSION_EPOCH, epoch)
                .await
                .map_err(internal)?;
            let done = "Password changed. You were signed out everywhere else.".to_owned();
            let member = app::model::CurrentMember {
                session_epoch: epoch,
                ..member
            };
            (Ok(done), member)
        }
        Err(e) => (Err(e), member),
    };
    settings_answer(&state, member, ACCOUNT, "password", result, vec![]).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SwitchForm {
    member: String,
}

/// Moves the session to another organisation of the same person.
pub async fn switch_organisation(
    State(state): State<AppState>,
    _: SameOrigin,
    session: Session,
    ClientIp(ip): ClientIp,
    Member(member): Member,
    Form(form): Form<SwitchForm>,
) -> Result<Response, PageError> {
    let to =
        app::domain::team::switch_organisation(&state.db, &member, &form.member, &ip, state.now())
            .await?;
    // The guard read this session a moment ago: it is live, and its sign-in
    // time is what the new organisation's session keeps.
    let signed_in_at: Option<i64> = session.get(SIGNED_IN_AT).await.map_err(internal)?;
    let now = state.now();
    super::sign_in::start_session(&session, &to, signed_in_at.unwrap_or(now), now).await?;
    Ok(Redirect::to("/analytics").into_response())
}

pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    _: SameOrigin,
    session: Session,
    ClientIp(ip): ClientIp,
    Member(member): Member,
) -> Result<Response, PageError> {
    account::sign_out_everywhere(&state.db, &member, &ip, state.now()).await?;
    session.flush().await.map_err(internal)?;
    Ok(Redirect::to("/login").into_response())
}

/// `SIGNUP=closed`: the sign-up page and its post do not exist.
pub fn signup_closed() -> PageError {
    PageError::Problem(Error::NotFound(app::domain::error::Thing::Page).classify())
}
