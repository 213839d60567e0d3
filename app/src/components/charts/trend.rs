//! The token trend: tokens issued per local day, today dashed as partial,
//! the previous period dotted when comparing.

use leptos::prelude::*;

use super::{ChartFrame, ChartSvg, ChartTooltip, Pointed};
use crate::components::format::{compact, thousands};
use crate::model::analytics::{TrendData, TrendPoint};

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 36.0;

fn x_of(i: usize, n: usize) -> f64 {
    if n <= 1 {
        return LEFT + (W - LEFT - RIGHT) / 2.0;
    }
    LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
}

fn y_of(v: u64, max: u64) -> f64 {
    TOP + (H - TOP - BOTTOM) * (1.0 - v as f64 / max as f64)
}

fn points_attr(points: &[TrendPoint], max: u64, n: usize) -> String {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x_of(i, n), y_of(p.count, max)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn point_text(p: &TrendPoint, today: bool) -> String {
    let partial = if today { " (today, so far)" } else { "" };
    format!("{}{partial}: {} tokens issued", p.label, thousands(p.count))
}

/// One circle per day, as markup (one string: no view per point). The
/// `<title>` is the point's accessible name and its tooltip without
/// JavaScript; `data-label` and `data-previous` are what the island's styled
/// tooltip shows (today's label says it is partial). The last point (today)
/// is the tab stop; the island gives the others a `tabindex` when the arrow
/// keys reach them.
fn dots_markup(current: &[TrendPoint], previous: &[TrendPoint], max: u64) -> String {
    use std::fmt::Write;
    let n = current.len();
    let mut svg = String::with_capacity(n * 300);
    for (i, p) in current.iter().enumerate() {
        let today = i + 1 == n;
        let before = previous
            .get(i)
            .map(|q| format!("{}: {}", q.label, thousands(q.count)));
        let _ = write!(
            svg,
            r#"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="4"{tab} role="img" data-count="{count}" data-label="{label}"{previous}><title>{text}{before}</title></circle>"#,
            class = if today {
                "trend-point partial"
            } else {
                "trend-point"
            },
            x = x_of(i, n),
            y = y_of(p.count, max),
            tab = if today { r#" tabindex="0""# } else { "" },
            count = p.count,
            label = if today {
                format!("{} · today, so far", p.label)
            } else {
                p.label.clone()
            },
            previous = before
                .as_ref()
                .map(|b| format!(r#" data-previous="{b}""#))
                .unwrap_or_default(),
            text = point_text(p, today),
            before = before.map(|b| format!("; {b}")).unwrap_or_default(),
        );
    }
    svg
}

/// The token trend as SVG, in its island.
#[component]
pub fn TrendChart(trend: TrendData, compare_href: String, plain_href: String) -> impl IntoView {
    let n = trend.current.len();
    let max = nice_max(
        trend
            .current
            .iter()
            .chain(trend.previous.iter())
            .map(|p| p.count)
            .max()
            .unwrap_or(0),
    );
    let current = &trend.current;

    let grid = [0u64, max / 2, max]
        .into_iter()
        .map(|v| {
            let y = format!("{:.1}", y_of(v, max));
            view! {
                <line class="grid" x1=LEFT x2=W - RIGHT y1=y.clone() y2=y.clone()></line>
                <text class="axis" x=LEFT - 8.0 y=y text-anchor="end" dominant-baseline="middle">
                    {compact(v)}
                </text>
            }
        })
        .collect_view();
    let every = n.div_ceil(6).max(1);
    let x_labels = current
        .iter()
        .enumerate()
        .filter(|(i, _)| (n - 1 - i).is_multiple_of(every))
        .map(|(i, p)| {
            let text = if i + 1 == n {
                "Today".to_owned()
            } else {
                p.label.split(", ").nth(1).unwrap_or(&p.label).to_owned()
            };
            view! {
                <text class="axis" x=format!("{:.1}", x_of(i, n)) y=H - 12.0 text-anchor="middle">
                    {text}
                </text>
            }
        })
        .collect_view();

    // The finished days as a solid line; today's partial count as a dashed
    // last segment, so a low "today" does not read as a drop.
    let solid = points_attr(&current[..n.saturating_sub(1)], max, n);
    let partial = (n >= 2).then(|| {
        let a = &current[n - 2];
        let b = &current[n - 1];
        view! {
            <line
                class="trend-partial"
                x1=format!("{:.1}", x_of(n - 2, n))
                y1=format!("{:.1}", y_of(a.count, max))
                x2=format!("{:.1}", x_of(n - 1, n))
                y2=format!("{:.1}", y_of(b.count, max))
            ></line>
        }
    });
    let previous_line = points_attr(&trend.previous, max, n);
    let dots = dots_markup(current, &trend.previous, max);

    let compare = trend.compare;
    view! {
        <div class="chart trend-chart" class:comparing=compare>
            <CompareToggle>
                <ul class="chart-legend">
                    <li>
                        <span class="key key-current" aria-hidden="true"></span>
                        "Tokens issued per day"
                    </li>
                    <li class="legend-previous">
                        <span class="key key-previous" aria-hidden="true"></span>
                        "Previous period"
                    </li>
                    <li>
                        <span class="key key-partial" aria-hidden="true"></span>
                        "Today (so far)"
                    </li>
                </ul>
                // A link to the other view without JavaScript; the island
                // switches in place.
                <a
                    class="button button-quiet compare-toggle"
                    href=if compare { plain_href } else { compare_href }
                    role="button"
                    aria-pressed=if compare { "true" } else { "false" }
                    data-testid="compare-toggle"
                >
                    {compare_label(compare)}
                </a>
            </CompareToggle>
            <TrendInteractions>
                <ChartSvg panel="trend" class="chart-svg" size=(W, H) testid="trend-chart">
                    {grid}
                    {x_labels}
                    <polyline class="trend-previous" points=previous_line></polyline>
                    <polyline class="trend-line" points=solid></polyline>
                    {partial}
                    <g class="trend-points" inner_html=dots></g>
                </ChartSvg>
            </TrendInteractions>
        </div>
    }
}

fn compare_label(comparing: bool) -> &'static str {
    if comparing {
        "Hide previous period"
    } else {
        "Compare with previous period"
    }
}

/// The comparison toggle around the chart's legend: shows or hides the
/// previous period in place (the `.comparing` class of the chart) and keeps
/// the address bar on the view shown. The state lives in the markup, so the
/// island takes no props.
#[island]
pub fn CompareToggle(children: Children) -> impl IntoView {
    let toggle = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        toggle_comparison(&ev);
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <div class="chart-toolbar" on:click=toggle>
            {children()}
        </div>
    }
}

/// The link and the address swap places: the page shows the link's view,
/// and the link leads back to the one it showed.
#[cfg(feature = "hydrate")]
fn toggle_comparison(ev: &leptos::ev::MouseEvent) -> Option<()> {
    let link = super::dom::target(ev)?.closest(".compare-toggle").ok()??;
    ev.prevent_default();
    let comparing = link
        .closest(".trend-chart")
        .ok()??
        .class_list()
        .toggle("comparing")
        .ok()?;
    let _ = link.set_attribute("aria-pressed", if comparing { "true" } else { "false" });
    link.set_text_content(Some(compare_label(comparing)));
    let location = window().location();
    let here = format!("{}{}", location.pathname().ok()?, location.search().ok()?);
    let there = link.get_attribute("href")?;
    let _ = link.set_attribute("href", &here);
    window()
        .history()
        .ok()?
        .replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(&there))
        .ok()
}

/// The trend's points: the tooltip and arrow keys. What the tooltip shows is
/// read from the point's markup (today's label says it is partial; the
/// previous period shows while comparing).
#[island]
pub fn TrendInteractions(children: Children) -> impl IntoView {
    let active = RwSignal::new(None::<Pointed>);
    let tooltip = move || {
        active.get().map(|p| {
            let before = p
                .previous
                .map(|q| view! { <span class="tip-previous">{q}</span> });
            view! {
                <ChartTooltip at=p.at>
                    <strong>{thousands(p.count)}" tokens"</strong>
                    <span>{p.label}</span>
                    {before}
                </ChartTooltip>
            }
        })
    };
    view! {
        <ChartFrame active selector=".trend-point" row=1 tooltip>
            {children()}
        </ChartFrame>
    }
}

/// A round axis maximum at or above `max`: 1, 2 or 5 times a power of ten.
pub fn nice_max(max: u64) -> u64 {
    if max == 0 {
        return 10;
    }
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step * m >= max {
                return step * m;
            }
        }
        step *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0), 10);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(180), 200);
        assert_eq!(nice_max(4_900), 5_000);
        assert_eq!(nice_max(5_001), 10_000);
    }
}
