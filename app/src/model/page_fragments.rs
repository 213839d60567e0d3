//! What a page's gzip can reuse: the memoised views (`components::rendered`)
//! a render used, each with its deflated form once the server's page
//! compression has made it. Shared by the views, which record themselves,
//! and the server, which splices the deflated forms in.

use std::sync::{Arc, Mutex, OnceLock};

/// A memoised view's HTML, and that HTML deflated once it is first asked
/// for (by whoever compresses the pages; see [`PageFragments`]).
pub struct Fragment {
    html: Arc<str>,
    deflated: OnceLock<Box<[u8]>>,
}

impl Fragment {
    pub fn new(html: Arc<str>) -> Self {
        Self {
            html,
            deflated: OnceLock::new(),
        }
    }

    pub fn html(&self) -> &str {
        &self.html
    }

    /// The HTML deflated by `deflate`, which runs once per fragment.
    pub fn deflated(&self, deflate: impl FnOnce(&[u8]) -> Vec<u8>) -> &[u8] {
        self.deflated
            .get_or_init(|| deflate(self.html.as_bytes()).into())
    }
}

/// The memoised views a page was rendered with, for its compression: the
/// server puts one into the request before the render, each memoised view
/// adds itself, and the server reuses their deflated forms in the page's
/// gzip. Most of a big page (the list part of `/agents`, Analytics below its
/// title) is such a view, and compressing it was a fifth of the page's CPU.
#[derive(Clone, Default)]
pub struct PageFragments(Arc<Mutex<Vec<Arc<Fragment>>>>);

impl PageFragments {
    pub(crate) fn add(&self, fragment: Arc<Fragment>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fragment);
    }

    /// The fragments added, in render order.
    pub fn take(&self) -> Vec<Arc<Fragment>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
