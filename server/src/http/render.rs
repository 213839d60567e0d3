//! Renders a page of the Leptos app for a form post's answer: the same page
//! as its GET, with extra context (the form's problems, a secret to show once)
//! and the status the post deserves.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};

use app::model::CurrentMember;

use super::error::ApiError;
use crate::state::AppState;

pub async fn page(
    state: &AppState,
    member: Option<CurrentMember>,
    path_and_query: &str,
    context: impl Fn() + Clone + Send + Sync + 'static,
    status: StatusCode,
) -> Response {
    let options = state.leptos.clone();
    let base = state.page_context();
    let render = leptos_axum::render_app_async_with_context(
        move || {
            base();
            context();
        },
        move || app::shell(options.clone()),
    );
    let mut req = match Request::get(path_and_query).body(Body::empty()) {
        Ok(req) => req,
        Err(e) => {
            return ApiError::from(app::domain::Error::Internal(e.to_string())).into_response()
        }
    };
    if let Some(member) = member {
        req.extensions_mut().insert(member);
    }
    let mut res = render(req).await;
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}
