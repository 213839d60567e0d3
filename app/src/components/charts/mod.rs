//! The Analytics charts: SVG rendered on the server (in the first HTML, with
//! native `<title>` tooltips, so they work without JavaScript), hydrated as
//! islands for the styled tooltip, keyboard navigation and the comparison
//! toggle. The lazy loader (`islands::LazyIslandScripts`) fetches their wasm
//! only when a chart scrolls into view or is first touched.
//!
//! Both charts share one keyboard model (a roving tab stop) and one tooltip.

mod heatmap;
mod trend;

pub use heatmap::{heat_cell_text, heat_legend, heat_level, ActivityHeatmap};
pub use trend::{nice_max, TrendChart};

use leptos::prelude::*;

/// Arrow keys move along a roving tab stop: one Tab enters the chart, arrows
/// walk its `len` points, `row` points to a row; the point with id
/// `{id_prefix}{index}` gets the focus.
fn roving_focus(
    focus: RwSignal<usize>,
    len: usize,
    row: isize,
    id_prefix: &'static str,
) -> impl Fn(leptos::ev::KeyboardEvent) + Clone + 'static {
    move |ev: leptos::ev::KeyboardEvent| {
        let step = match ev.key().as_str() {
            "ArrowRight" => 1,
            "ArrowLeft" => -1,
            "ArrowDown" => row,
            "ArrowUp" => -row,
            _ => return,
        };
        ev.prevent_default();
        let next = (focus.get_untracked() as isize + step).clamp(0, len as isize - 1) as usize;
        focus.set(next);
        #[cfg(feature = "hydrate")]
        focus_element(&format!("{id_prefix}{next}"));
        #[cfg(not(feature = "hydrate"))]
        let _ = id_prefix;
    }
}

/// The index of the chart point (matching `selector`, id `{prefix}{index}`)
/// an event happened on. Points are plain markup, so the chart listens on
/// their container and finds the point here.
fn point_index(ev: &leptos::ev::Event, selector: &str, prefix: &str) -> Option<usize> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let point = ev
            .target()?
            .dyn_into::<web_sys::Element>()
            .ok()?
            .closest(selector)
            .ok()??;
        point.id().strip_prefix(prefix)?.parse().ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, selector, prefix);
        None
    }
}

/// Makes the focused point its chart's one tab stop (roving tabindex).
fn make_tab_stop(ev: &leptos::ev::Event) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let Some(point) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        if let Some(Ok(Some(previous))) = point
            .parent_element()
            .map(|parent| parent.query_selector(r#"[tabindex="0"]"#))
        {
            let _ = previous.set_attribute("tabindex", "-1");
        }
        let _ = point.set_attribute("tabindex", "0");
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

#[cfg(feature = "hydrate")]
fn focus_element(id: &str) {
    use leptos::wasm_bindgen::JsCast;
    if let Some(el) = document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<web_sys::SvgElement>().ok())
    {
        let _ = el.focus();
    }
}

/// The styled tooltip over a chart, placed in percent of the chart's box.
#[component]
fn ChartTooltip(left: f64, top: f64, children: Children) -> impl IntoView {
    view! {
        <div class="chart-tooltip" role="status" style=format!("left: {left:.1}%; top: {top:.1}%")>
            {children()}
        </div>
    }
}

/// A chart with its heading, a summary for screen readers and the same
/// numbers as a table: shown when `table` is given (the URL asked for it),
/// else a "View as table" link to `table_href`. The tables stay out of the
/// first HTML of the page, yet reachable without JavaScript. `id` names the
/// heading (`{id}-title`), the summary (`{id}-summary`) the chart points at,
/// and the table's place (`{id}-table`).
#[component]
pub fn ChartPanel(
    id: &'static str,
    title: &'static str,
    summary: String,
    table: Option<AnyView>,
    table_href: String,
    children: Children,
) -> impl IntoView {
    let table = match table {
        Some(table) => view! {
            <div class="chart-table" id=format!("{id}-table")>
                {table}
                <a href=table_href>"Hide table"</a>
            </div>
        }
        .into_any(),
        None => view! {
            <p class="chart-table">
                <a href=table_href>"View as table"</a>
            </p>
        }
        .into_any(),
    };
    view! {
        <section class="panel">
            <h2 id=format!("{id}-title")>{title}</h2>
            <p id=format!("{id}-summary") class="visually-hidden">
                {summary}
            </p>
            {children()}
            {table}
        </section>
    }
}
