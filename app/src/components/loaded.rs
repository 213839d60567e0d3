use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use leptos::prelude::*;

/// A page's data from its server function: `loading` while it comes, then
/// `show(data)`, or the one error view when the call failed. The message is
/// the server's safe one (with an error id when it was our fault).
///
/// Under load a page's data was usually read this second already
/// (`domain::recent_reads`), so the call is ready at its first poll: then the
/// page renders at once, without a suspense boundary and an async value
/// around it (they cost a page about a sixth of its CPU). Otherwise the
/// started call is awaited as an `AsyncDerived`: a `Resource` would also
/// serialize the data into the page for a hydration that never happens
/// (pages render on the server only: islands), and a bare future would be
/// run again by each pass of the server render (three times per page).
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
    let mut call = Box::pin(data());
    let mut cx = Context::from_waker(Waker::noop());
    if let Poll::Ready(result) = call.as_mut().poll(&mut cx) {
        return shown(result, &show).into_any();
    }
    // The call started: the async value takes it over rather than start
    // another (a later run, if any, calls again).
    let started = Arc::new(Mutex::new(Some(call)));
    let data = ArcAsyncDerived::new(move || {
        let started = started.lock().ok().and_then(|mut s| s.take());
        let data = data.clone();
        async move {
            match started {
                Some(call) => call.await,
                None => data().await,
            }
        }
    });
    view! {
        <Suspense fallback=move || {
            view! { <p class="muted">{loading}</p> }
        }>
            {move || {
                let (show, data) = (show.clone(), data.clone());
                Suspend::new(async move { shown(data.await, &show) })
            }}
        </Suspense>
    }
    .into_any()
}

fn shown<T, V: IntoView + 'static>(
    result: Result<T, ServerFnError>,
    show: &impl Fn(T) -> V,
) -> AnyView {
    match result {
        Ok(d) => show(d).into_any(),
        Err(e) => view! { <ErrorView error=e /> }.into_any(),
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
