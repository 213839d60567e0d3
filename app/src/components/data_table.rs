use leptos::prelude::*;

/// A table of records: a heading per column, then `rows` (`<tr>`s), in a
/// wrapper that scrolls sideways on narrow screens instead of the page.
pub fn data_table(
    testid: Option<&'static str>,
    columns: &[&'static str],
    rows: impl IntoView,
) -> impl IntoView {
    let headings = columns
        .iter()
        .map(|c| view! { <th scope="col">{*c}</th> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data-table" data-testid=testid>
                <thead>
                    <tr>{headings}</tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
