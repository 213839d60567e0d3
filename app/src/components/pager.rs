use leptos::prelude::*;

/// "← Previous · Page 2 of 7 · Next →" for a paged table; nothing when
/// everything fits on one page. Plain links: works without JavaScript.
pub fn pager(
    label: &'static str,
    page: usize,
    pages: usize,
    href: &dyn Fn(usize) -> String,
) -> Option<AnyView> {
    if pages <= 1 {
        return None;
    }
    let link = |to: usize, rel: &'static str, text: &'static str| {
        view! {
            <a class="button button-quiet" rel=rel href=href(to)>
                {text}
            </a>
        }
    };
    let prev = (page > 1).then(|| link(page - 1, "prev", "← Previous"));
    let next = (page < pages).then(|| link(page + 1, "next", "Next →"));
    Some(
        view! {
            <nav class="pager" aria-label=label>
                {prev}
                <span data-testid="page-status">{format!("Page {page} of {pages}")}</span>
                {next}
            </nav>
        }
        .into_any(),
    )
}
