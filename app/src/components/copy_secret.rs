use leptos::prelude::*;

/// A secret with a Copy button: the one island of the Agents pages. Without
/// JavaScript the secret is still there to select and copy by hand.
#[island]
pub fn CopySecret(secret: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let to_copy = secret.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = window().navigator().clipboard().write_text(&to_copy);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &to_copy;
    };
    view! {
        <div class="secret-box">
            <code data-testid="client-secret">{secret}</code>
            <button type="button" class="button" on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}
