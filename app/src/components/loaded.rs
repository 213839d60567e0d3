use std::future::Future;

use leptos::prelude::*;

/// A page's data from its server function: `loading` while it comes, then
/// `show(data)`, or the one error view when the call failed. The message is
/// the server's safe one (with an error id when it was our fault).
///
/// Pages are rendered on the server only (islands), so the call is an
/// `AsyncDerived`: a `Resource` would also serialize the data into the page
/// for a hydration that never happens, and a bare future would be run again
/// by each pass of the server render (three times per page).
pub fn loaded<T, V, F>(
    data: impl Fn() -> F + Clone + Send + Sync + 'static,
    loading: &'static str,
    show: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    F: Future<Output = Result<T, ServerFnError>> + Send + 'static,
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let data = ArcAsyncDerived::new(data);
    view! {
        <Suspense fallback=move || {
            view! { <p class="muted">{loading}</p> }
        }>
            {move || {
                let (show, data) = (show.clone(), data.clone());
                Suspend::new(async move {
                    match data.await {
                        Ok(d) => show(d).into_any(),
                        Err(e) => view! { <ErrorView error=e /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ErrorView(error: ServerFnError) -> impl IntoView {
    let message = match error {
        ServerFnError::ServerError(message) => message,
        other => other.to_string(),
    };
    view! {
        <p class="form-error" role="alert">
            {message}
        </p>
    }
}
