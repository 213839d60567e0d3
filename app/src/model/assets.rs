//! Where a page's built assets (style sheet, islands' loader, icon) are served.

use std::sync::Arc;

/// The URLs of the built assets a page links, each with the build's version
/// in its query (`?v=`): the server marks an asset asked for under the
/// current version as immutable, so browsers keep it until a new build
/// changes the URL, instead of asking again on each page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetUrls {
    /// The build's version (empty: none).
    pub version: Arc<str>,
    pub stylesheet: Arc<str>,
    pub islands_loader: Arc<str>,
    pub favicon: Arc<str>,
}

/// The loader of the islands (`public/scripts/islands.js`).
pub const ISLANDS_LOADER: &str = "/scripts/islands.js";
/// The site's icon (`public/favicon.svg`).
pub const FAVICON: &str = "/favicon.svg";

impl AssetUrls {
    /// The assets of `version`; `stylesheet` is the style sheet's path.
    pub fn versioned(stylesheet: &str, version: &str) -> Self {
        AssetUrls {
            version: version.into(),
            stylesheet: format!("{stylesheet}?v={version}").into(),
            islands_loader: format!("{ISLANDS_LOADER}?v={version}").into(),
            favicon: format!("{FAVICON}?v={version}").into(),
        }
    }

    /// Without a version: served, but revalidated on each use.
    pub fn unversioned(stylesheet: &str) -> Self {
        AssetUrls {
            version: "".into(),
            stylesheet: stylesheet.into(),
            islands_loader: ISLANDS_LOADER.into(),
            favicon: FAVICON.into(),
        }
    }
}
