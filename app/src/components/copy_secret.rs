use leptos::prelude::*;

/// A secret with a Copy button. Without JavaScript the secret is still there
/// to select and copy by hand.
#[component]
pub fn SecretBox(secret: String) -> impl IntoView {
    view! {
        <CopySecret>
            <code data-testid="client-secret">{secret}</code>
        </CopySecret>
    }
}

/// The Copy button around a secret: the one island of the Agents pages. It
/// copies the text of the `<code>` it wraps, so the secret is in the page
/// once (an island's props would be a second copy in its attributes).
#[island]
fn CopySecret(children: Children) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(secret) = secret_of(&ev) {
            let _ = window().navigator().clipboard().write_text(&secret);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <div class="secret-box">
            {children()} <button type="button" class="button" on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
}

/// The text of the secret beside the button clicked.
#[cfg(feature = "hydrate")]
fn secret_of(ev: &leptos::ev::MouseEvent) -> Option<String> {
    use leptos::wasm_bindgen::JsCast;
    let button = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
    button
        .closest(".secret-box")
        .ok()??
        .query_selector("code")
        .ok()??
        .text_content()
}
