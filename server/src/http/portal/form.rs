//! Answers to form posts. The forms are plain HTML (they work without
//! JavaScript), so a post is answered with a page: the same page as its GET,
//! rendered with extra context (the form's problems, a secret to show once).

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;

use app::domain::{Error, Problem};
use app::model::forms::SettingsOutcome;
use app::model::CurrentMember;

use crate::http::error::PageError;
use crate::state::AppState;

/// Renders the Leptos page at `path_and_query` for `member`, with `context`
/// provided to it, answered with `status`.
pub async fn page(
    state: &AppState,
    member: Option<CurrentMember>,
    path_and_query: &str,
    context: impl Fn() + Clone + Send + Sync + 'static,
    status: StatusCode,
) -> Result<Response, PageError> {
    let assets = state.assets.clone();
    let base = state.page_context();
    let render = leptos_axum::render_app_async_with_context(
        move || {
            base();
            context();
        },
        move || app::document(assets.clone()),
    );
    let mut req = Request::get(path_and_query)
        .body(Body::empty())
        .map_err(|e| PageError::Problem(Problem::internal(&e)))?;
    if let Some(member) = member {
        req.extensions_mut().insert(member);
        super::insert_standing(state, req.extensions_mut()).await;
    }
    let mut res = render(req).await;
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    Ok(res)
}

/// The page a form lives on, for answering its post.
pub struct FormPage<'a> {
    pub state: &'a AppState,
    pub member: Option<&'a CurrentMember>,
    pub path: String,
}

impl FormPage<'_> {
    /// The one policy of every form post: a problem the member can fix
    /// (bad input, a conflict, a limit, throttling) re-renders the form's
    /// page with it, as `form_state(problem)`, with the problem's status;
    /// anything else (our failure, a missing thing) is an error page.
    pub async fn or_show<T, C>(
        &self,
        result: Result<T, Error>,
        form_state: impl FnOnce(&Problem) -> C,
    ) -> Result<T, PageError>
    where
        C: Clone + Send + Sync + 'static,
    {
        let problem = match result {
            Ok(value) => return Ok(value),
            Err(e) => e.classify(),
        };
        if !problem.belongs_on_the_form() {
            return Err(PageError::Problem(problem));
        }
        let context = form_state(&problem);
        let mut res = page(
            self.state,
            self.member.cloned(),
            &self.path,
            move || leptos::prelude::provide_context(context.clone()),
            problem.status,
        )
        .await?;
        if let Some(secs) = problem.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        Err(PageError::Rendered(Box::new(res)))
    }
}

/// Answers a post of the settings pages (team, account): the page at
/// `path` with what was done (`result`'s message), or with the problem
/// beside form `form`, keeping what was typed (`values`); problems the
/// member cannot fix are an error page.
pub async fn settings_answer(
    state: &AppState,
    member: CurrentMember,
    path: &str,
    form: &'static str,
    result: Result<String, Error>,
    values: Vec<(&'static str, String)>,
) -> Result<Response, PageError> {
    let (outcome, status) = match result {
        Ok(done) => (
            SettingsOutcome {
                form,
                done: Some(done),
                ..Default::default()
            },
            StatusCode::OK,
        ),
        Err(e) => {
            let problem = e.classify();
            if !problem.belongs_on_the_form() {
                return Err(PageError::Problem(problem));
            }
            let outcome = SettingsOutcome {
                form,
                errors: problem.field_errors(),
                values,
                done: None,
            };
            (outcome, problem.status)
        }
    };
    let context = move || leptos::prelude::provide_context(outcome.clone());
    page(state, Some(member), path, context, status).await
}
