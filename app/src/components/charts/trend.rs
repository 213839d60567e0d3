//! The token trend: tokens issued per local day, today dashed as partial,
//! the previous period dotted when comparing.

use leptos::prelude::*;

use super::{make_tab_stop, point_index, roving_focus, ChartTooltip};
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

/// One circle per day, as markup: the island listens on their group (see
/// `heat_markup` for why). The `<title>` is the point's accessible name and
/// its tooltip without JavaScript; the last point (today) is the tab stop.
fn dots_markup(current: &[TrendPoint], previous: &[TrendPoint], max: u64) -> String {
    use std::fmt::Write;
    let n = current.len();
    let mut svg = String::with_capacity(n * 300);
    for (i, p) in current.iter().enumerate() {
        let today = i + 1 == n;
        let before = previous
            .get(i)
            .map(|q| format!("; {}: {}", q.label, thousands(q.count)))
            .unwrap_or_default();
        let _ = write!(
            svg,
            r#"<circle id="trend-pt-{i}" class="{class}" cx="{x:.1}" cy="{y:.1}" r="4" tabindex="{tab}" role="img" data-date="{date}" data-count="{count}"><title>{text}{before}</title></circle>"#,
            class = if today {
                "trend-point partial"
            } else {
                "trend-point"
            },
            x = x_of(i, n),
            y = y_of(p.count, max),
            tab = if today { "0" } else { "-1" },
            date = p.date,
            count = p.count,
            text = point_text(p, today),
        );
    }
    svg
}

#[island]
pub fn TrendChart(trend: TrendData, compare_href: String, plain_href: String) -> impl IntoView {
    let n = trend.current.len();
    let compare = RwSignal::new(trend.compare);
    let active = RwSignal::new(None::<usize>);
    let focus = RwSignal::new(n.saturating_sub(1));
    let max = nice_max(
        trend
            .current
            .iter()
            .chain(trend.previous.iter())
            .map(|p| p.count)
            .max()
            .unwrap_or(0),
    );
    let current = trend.current.clone();
    let previous = trend.previous.clone();

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
    let previous_line = points_attr(&previous, max, n);

    let dots = dots_markup(&current, &previous, max);
    let point_of = |ev: &leptos::ev::Event| point_index(ev, ".trend-point", "trend-pt-");

    let on_key = roving_focus(focus, n, 1, "trend-pt-");

    let tip_current = current.clone();
    let tip_previous = previous.clone();
    let tooltip = move || {
        active.get().and_then(|i| {
            let p = tip_current.get(i)?;
            let left = x_of(i, n) / W * 100.0;
            let top = y_of(p.count, max) / H * 100.0;
            let before = compare
                .get()
                .then(|| tip_previous.get(i))
                .flatten()
                .map(|q| view! { <span class="tip-previous">{format!("{}: {}", q.label, thousands(q.count))}</span> });
            let label = p.label.clone();
            let count = p.count;
            Some(view! {
                <ChartTooltip left top>
                    <strong>{thousands(count)}" tokens"</strong>
                    <span>{label}{(i + 1 == n).then_some(" · today, so far")}</span>
                    {before}
                </ChartTooltip>
            })
        })
    };

    let href = {
        let (c, p) = (compare_href.clone(), plain_href.clone());
        move || if compare.get() { p.clone() } else { c.clone() }
    };
    let toggle = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        compare.update(|c| *c = !*c);
        #[cfg(not(feature = "hydrate"))]
        let _ = (&compare_href, &plain_href);
        #[cfg(feature = "hydrate")]
        {
            let href = if compare.get_untracked() {
                &compare_href
            } else {
                &plain_href
            };
            if let Ok(history) = window().history() {
                let _ = history.replace_state_with_url(
                    &leptos::wasm_bindgen::JsValue::NULL,
                    "",
                    Some(href),
                );
            }
        }
    };

    view! {
        <div class="chart trend-chart">
            <div class="chart-toolbar">
                <ul class="chart-legend">
                    <li>
                        <span class="key key-current" aria-hidden="true"></span>
                        "Tokens issued per day"
                    </li>
                    <li class:hidden=move || !compare.get()>
                        <span class="key key-previous" aria-hidden="true"></span>
                        "Previous period"
                    </li>
                    <li>
                        <span class="key key-partial" aria-hidden="true"></span>
                        "Today (so far)"
                    </li>
                </ul>
                <a
                    class="button button-quiet compare-toggle"
                    href=href
                    role="button"
                    aria-pressed=move || if compare.get() { "true" } else { "false" }
                    data-testid="compare-toggle"
                    on:click=toggle
                >
                    {move || {
                        if compare.get() {
                            "Hide previous period"
                        } else {
                            "Compare with previous period"
                        }
                    }}
                </a>
            </div>
            <div class="chart-frame">
                <svg
                    class="chart-svg"
                    viewBox=format!("0 0 {W} {H}")
                    role="group"
                    aria-labelledby="trend-title"
                    aria-describedby="trend-summary"
                    data-testid="trend-chart"
                    on:keydown=on_key
                >
                    {grid}
                    {x_labels}
                    <polyline
                        class="trend-previous"
                        points=previous_line
                        class:hidden=move || !compare.get()
                    ></polyline>
                    <polyline class="trend-line" points=solid></polyline>
                    {partial}
                    <g
                        class="trend-points"
                        on:mouseover=move |ev| active.set(point_of(&ev))
                        on:mouseleave=move |_| active.set(None)
                        on:focusin=move |ev| {
                            if let Some(i) = point_of(&ev) {
                                make_tab_stop(&ev);
                                focus.set(i);
                                active.set(Some(i));
                            }
                        }
                        on:focusout=move |_| active.set(None)
                        inner_html=dots
                    ></g>
                </svg>
                {tooltip}
            </div>
        </div>
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
