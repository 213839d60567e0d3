use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A page's data from its server function: `loading` while it comes, then
/// `show(data)`, or the one error view when the call failed. The message is
/// the server's safe one (with an error id when it was our fault).
pub fn loaded<T, V>(
    data: Resource<Result<T, ServerFnError>>,
    loading: &'static str,
    show: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=move || {
            view! { <p class="muted">{loading}</p> }
        }>
            {move || {
                let show = show.clone();
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
