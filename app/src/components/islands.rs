//! How islands reach the browser.

use leptos::prelude::*;

/// Loads the islands' wasm only when one of them scrolls into view or is
/// first pointed at, focused or touched: pages without islands never load
/// it, and the first paint never waits for it. Replaces Leptos'
/// `HydrationScripts`, which fetches the wasm on every page load.
#[component]
pub fn LazyIslandScripts() -> impl IntoView {
    use_context::<LeptosOptions>().map(script)
}

fn script(options: LeptosOptions) -> impl IntoView {
    let pkg = format!("/{}/{}", options.site_pkg_dir, options.output_name);
    // The same file names Leptos' own script uses.
    let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_none() {
        format!("{pkg}_bg.wasm")
    } else {
        format!("{pkg}.wasm")
    };
    let script = format!("({})();", include_str!("lazy_islands.js").trim())
        .replace("__JS__", &format!("{pkg}.js"))
        .replace("__WASM__", &wasm);
    view! { <script type="module">{script}</script> }
}
