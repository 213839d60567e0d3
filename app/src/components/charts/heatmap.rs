//! The weekday × hour heatmap of agent activity in the tenant's time zone.

use leptos::prelude::*;

use super::{roving_focus, ChartTooltip};
use crate::components::format::thousands;
use crate::model::analytics::{HeatmapData, WEEKDAY_NAMES};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const CELL_W: f64 = 26.0;
const CELL_H: f64 = 24.0;
const HEAT_LEFT: f64 = 40.0;
const HEAT_TOP: f64 = 22.0;

/// Colour step 0 (none) to 5 (the busiest hour of the range).
pub fn heat_level(count: u64, max: u64) -> usize {
    if count == 0 || max == 0 {
        0
    } else {
        ((count as f64 / max as f64 * 5.0).ceil() as usize).clamp(1, 5)
    }
}

/// The count range each colour step stands for, for the legend.
pub fn heat_legend(max: u64) -> Vec<(usize, String)> {
    let mut out = vec![(0, "0".to_owned())];
    let mut low = 1u64;
    for level in 1..=5u64 {
        let high = (max as f64 * level as f64 / 5.0).floor() as u64;
        if high >= low {
            let text = if high == low {
                thousands(low)
            } else {
                format!("{}–{}", thousands(low), thousands(high))
            };
            out.push((level as usize, text));
            low = high + 1;
        }
    }
    out
}

pub fn heat_cell_text(weekday: usize, hour: usize, count: u64) -> String {
    format!(
        "{} {hour:02}:00–{:02}:00: {} requests",
        WEEKDAY_NAMES[weekday],
        (hour + 1) % 24,
        thousands(count)
    )
}

#[island]
pub fn ActivityHeatmap(heatmap: HeatmapData) -> impl IntoView {
    let max = heatmap.cells.iter().flatten().copied().max().unwrap_or(0);
    let active = RwSignal::new(None::<(usize, usize)>);
    let focus = RwSignal::new(0usize);
    let width = HEAT_LEFT + 24.0 * CELL_W;
    let height = HEAT_TOP + 7.0 * CELL_H;
    let hours = (0..24)
        .step_by(3)
        .map(|h| {
            view! {
                <text
                    class="axis"
                    x=(HEAT_LEFT + h as f64 * CELL_W + CELL_W / 2.0) as i64
                    y="14"
                    text-anchor="middle"
                >
                    {format!("{h:02}")}
                </text>
            }
        })
        .collect_view();
    let rows = heatmap
        .cells
        .iter()
        .enumerate()
        .map(|(d, hours)| {
            let label = view! {
                <text
                    class="axis"
                    x=HEAT_LEFT - 8.0
                    y=(HEAT_TOP + d as f64 * CELL_H + CELL_H / 2.0) as i64
                    text-anchor="end"
                    dominant-baseline="middle"
                >
                    {DAYS[d]}
                </text>
            };
            let cells = hours
                .iter()
                .enumerate()
                .map(|(h, &count)| {
                    let i = d * 24 + h;
                    let text = heat_cell_text(d, h, count);
                    // The `<title>` is the cell's accessible name and its
                    // tooltip without JavaScript; coordinates are whole.
                    view! {
                        <rect
                            id=format!("heat-{i}")
                            class=format!("heat-cell heat-{}", heat_level(count, max))
                            x=(HEAT_LEFT + h as f64 * CELL_W + 1.0) as i64
                            y=(HEAT_TOP + d as f64 * CELL_H + 1.0) as i64
                            width=(CELL_W - 2.0) as i64
                            height=(CELL_H - 2.0) as i64
                            rx="3"
                            tabindex=move || if focus.get() == i { "0" } else { "-1" }
                            role="img"
                            data-weekday=d
                            data-hour=h
                            data-count=count
                            on:mouseenter=move |_| active.set(Some((d, h)))
                            on:mouseleave=move |_| active.set(None)
                            on:focus=move |_| {
                                focus.set(i);
                                active.set(Some((d, h)));
                            }
                            on:blur=move |_| active.set(None)
                        >
                            <title>{text}</title>
                        </rect>
                    }
                })
                .collect_view();
            view! {
                {label}
                {cells}
            }
        })
        .collect_view();
    let on_key = roving_focus(focus, 7 * 24, 24, "heat-");
    let cells = heatmap.cells.clone();
    let tooltip = move || {
        active.get().map(|(d, h)| {
            let count = cells.get(d).and_then(|r| r.get(h)).copied().unwrap_or(0);
            let left = (HEAT_LEFT + h as f64 * CELL_W + CELL_W / 2.0) / width * 100.0;
            let top = (HEAT_TOP + d as f64 * CELL_H) / height * 100.0;
            view! {
                <ChartTooltip left top>
                    <strong>{thousands(count)}" requests"</strong>
                    <span>
                        {format!("{} {h:02}:00–{:02}:00", WEEKDAY_NAMES[d], (h + 1) % 24)}
                    </span>
                </ChartTooltip>
            }
        })
    };
    let legend = heat_legend(max)
        .into_iter()
        .map(|(level, text)| {
            view! {
                <li>
                    <span class=format!("swatch heat-{level}") aria-hidden="true"></span>
                    {text}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="chart heatmap-chart">
            <div class="chart-frame">
                <svg
                    class="chart-svg heatmap-svg"
                    viewBox=format!("0 0 {width} {height}")
                    role="group"
                    aria-labelledby="heatmap-title"
                    aria-describedby="heatmap-summary"
                    data-testid="heatmap"
                    on:keydown=on_key
                >
                    {hours}
                    {rows}
                </svg>
                {tooltip}
            </div>
            <ul class="heat-legend" aria-label="Requests per hour, by colour">
                <li class="legend-caption">"Requests per hour:"</li>
                {legend}
            </ul>
            <p class="chart-note">
                "Times in "<strong data-testid="heatmap-zone">{heatmap.zone}</strong>
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heat_levels_cover_every_count() {
        assert_eq!(heat_level(0, 100), 0);
        assert_eq!(heat_level(1, 100), 1);
        assert_eq!(heat_level(20, 100), 1);
        assert_eq!(heat_level(21, 100), 2);
        assert_eq!(heat_level(100, 100), 5);
        let legend = heat_legend(100);
        assert_eq!(legend[0].1, "0");
        assert_eq!(legend[1].1, "1–20");
        assert_eq!(legend[5].1, "81–100");
        // Few requests: no empty or overlapping steps.
        let legend = heat_legend(2);
        assert_eq!(
            legend.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
            ["0", "1", "2"]
        );
    }
}
