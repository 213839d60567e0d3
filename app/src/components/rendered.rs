//! Views rendered recently, kept by what they were rendered from.
//!
//! Under load one tenant's page is rendered many times a second from the same
//! data (page data is read at most once a second, `domain::recent_reads`), and
//! rendering tens of kilobytes of HTML is then most of a request's cost. A
//! view that is a pure function of its inputs is rendered once per inputs and
//! its HTML reused. Kept by the whole input (or, for a value shared by every
//! request that wants it, by that value's identity: [`ByIdentity`]), never a
//! hash of it: two requests share HTML only when they would have rendered the
//! same HTML.
//!
//! A memoised view also keeps its deflated form once something needs it:
//! the page's gzip reuses it instead of compressing that HTML again for
//! every request (`model::page_fragments`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use leptos::prelude::*;
use leptos::tachys::html::InertElement;

use crate::model::page_fragments::{Fragment, PageFragments};

pub struct RenderMemo<K>(LazyLock<Mutex<HashMap<Arc<K>, Rendered>>>);

/// Filled once: requests that want the same view while it renders wait for
/// it instead of rendering it too (at the turn of a second, every busy
/// request misses at once).
type Rendered = Arc<OnceLock<Arc<Fragment>>>;

impl<K: Hash + Eq> RenderMemo<K> {
    /// More than the tenants and views a busy instance shows in one second
    /// (inputs carry the time, so entries go stale within a second); past it
    /// the memo starts over rather than track recency: a miss costs a render.
    const CAPACITY: usize = 128;

    pub const fn new() -> Self {
        Self(LazyLock::new(Default::default))
    }

    /// The HTML of `render(&key)`, rendered at most once per key. The view
    /// must depend on nothing but `key` (no context, no signals, no clock)
    /// and have no side effects (a `leptos_meta` tag would be added only by
    /// the render that fills the memo).
    pub fn view<V: RenderHtml>(&self, key: K, render: impl FnOnce(&K) -> V) -> impl IntoView {
        let fragment = self.fragment(key, |key| render(key).to_html());
        if let Some(fragments) = crate::session::put_into_request::<PageFragments>() {
            fragments.add(fragment.clone());
        }
        InertElement::new(fragment.html().to_owned())
    }

    /// [`Self::view`], unless the page answers a failed form post: `state`
    /// (what the post handed back) then shows in a view rendered for that
    /// request alone.
    pub fn view_unless_form<S, V>(
        &self,
        key: K,
        state: Option<S>,
        render: impl Fn(&K, Option<S>) -> V,
    ) -> AnyView
    where
        V: IntoView + 'static,
    {
        match state {
            Some(state) => render(&key, Some(state)).into_any(),
            None => self.view(key, |key| render(key, None)).into_any(),
        }
    }

    fn fragment(&self, key: K, render: impl FnOnce(&K) -> String) -> Arc<Fragment> {
        let key = Arc::new(key);
        let rendered = {
            let mut memo = self.lock();
            if memo.len() >= Self::CAPACITY && !memo.contains_key(&key) {
                memo.clear();
            }
            memo.entry(key.clone()).or_default().clone()
        };
        // Rendering never awaits, so whoever fills the cell finishes without
        // needing the thread of a request that waits for it.
        rendered
            .get_or_init(|| Arc::new(Fragment::new(render(&key).into())))
            .clone()
    }

    #[cfg(test)]
    fn html(&self, key: K, render: impl FnOnce(&K) -> String) -> Arc<str> {
        self.fragment(key, render).html().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<K>, Rendered>> {
        // A panic while rendering leaves the map whole: keep using it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A key that is one particular shared value: equal only to itself, found by
/// its address. For inputs built once and shared by every request that wants
/// them (`RecentReads`), this spares comparing them whole; holding the `Arc`
/// keeps the address from being reused while the entry lives.
pub struct ByIdentity<T>(pub Arc<T>);

impl<T> PartialEq for ByIdentity<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for ByIdentity<T> {}

impl<T> Hash for ByIdentity<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

impl<K: Hash + Eq> Default for RenderMemo<K> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_per_input_and_never_mixes_inputs() {
        static MEMO: RenderMemo<(String, u64)> = RenderMemo::new();
        let renders = std::cell::Cell::new(0);
        let html = |who: &str, n: u64| {
            MEMO.html((who.to_owned(), n), |(who, n)| {
                renders.set(renders.get() + 1);
                format!("<p>{who}: {n}</p>")
            })
        };
        assert_eq!(&*html("acme", 1), "<p>acme: 1</p>");
        assert_eq!(&*html("acme", 1), "<p>acme: 1</p>");
        assert_eq!(renders.get(), 1);
        assert_eq!(&*html("globex", 1), "<p>globex: 1</p>");
        assert_eq!(&*html("acme", 2), "<p>acme: 2</p>");
        assert_eq!(renders.get(), 3);
        for n in 0..RenderMemo::<(String, u64)>::CAPACITY as u64 * 2 {
            assert_eq!(*html("many", n), *format!("<p>many: {n}</p>"));
        }
        assert!(MEMO.lock().len() <= RenderMemo::<(String, u64)>::CAPACITY);
    }

    #[test]
    fn a_shared_input_is_known_by_identity() {
        static MEMO: RenderMemo<ByIdentity<String>> = RenderMemo::new();
        let renders = std::cell::Cell::new(0);
        let html = |data: &Arc<String>| {
            MEMO.html(ByIdentity(data.clone()), |d| {
                renders.set(renders.get() + 1);
                format!("<p>{}</p>", d.0)
            })
        };
        let shared = Arc::new("acme".to_owned());
        assert_eq!(&*html(&shared), "<p>acme</p>");
        assert_eq!(&*html(&shared.clone()), "<p>acme</p>");
        assert_eq!(renders.get(), 1);
        // Equal but built apart (the next second's data): rendered afresh.
        assert_eq!(&*html(&Arc::new("acme".to_owned())), "<p>acme</p>");
        assert_eq!(renders.get(), 2);
    }

    #[test]
    fn requests_that_miss_together_share_one_render() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static MEMO: RenderMemo<u64> = RenderMemo::new();
        let renders = AtomicUsize::new(0);
        let pages: Vec<Arc<str>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        MEMO.html(7, |n| {
                            renders.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            format!("<p>{n}</p>")
                        })
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        assert!(pages.iter().all(|page| &**page == "<p>7</p>"));
    }
}
