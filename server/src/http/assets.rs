//! The built browser assets (`/pkg`: CSS, the islands' JS and wasm; and
//! `/scripts`: the islands' loader, from `public/scripts`). They change only
//! with a build, so they are compressed once, at start-up, at the best gzip
//! level, and served as files; pages are compressed per request instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::Router;
use flate2::write::GzEncoder;
use flate2::Compression;
use tower_http::services::ServeDir;

use crate::state::AppState;

/// The site root's directories served as built files (`pkg` is Leptos' output).
const DIRS: [&str; 2] = ["pkg", "scripts"];

/// True for the paths of built files (which browsers may cache).
pub fn is_asset(path: &str) -> bool {
    DIRS.iter().any(|dir| {
        path.strip_prefix('/')
            .and_then(|p| p.strip_prefix(dir))
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// `/pkg/*` and `/scripts/*`, answered with the `.gz` sibling when the
/// browser takes gzip.
pub fn router(site_root: &str) -> Router<AppState> {
    DIRS.iter().fold(Router::new(), |router, dir| {
        router.nest_service(
            &format!("/{dir}"),
            ServeDir::new(Path::new(site_root).join(dir)).precompressed_gzip(),
        )
    })
}

/// Writes `NAME.gz` beside every asset that has none or an older one. A
/// read-only site root is not an error: the assets are then served as they
/// are (and compressed per request).
pub fn precompress(site_root: &str) {
    let files = DIRS
        .iter()
        .filter_map(|dir| std::fs::read_dir(Path::new(site_root).join(dir)).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()));
    for path in files {
        let compressible = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "js" | "wasm" | "css"));
        if !compressible {
            continue;
        }
        let mut gz = path.clone().into_os_string();
        gz.push(".gz");
        let gz = PathBuf::from(gz);
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&gz).is_some_and(|g| Some(g) >= modified(&path)) {
            continue;
        }
        let written = std::fs::read(&path).and_then(|raw| {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
            encoder.write_all(&raw)?;
            std::fs::write(&gz, encoder.finish()?)
        });
        if let Err(e) = written {
            tracing::warn!(path = %gz.display(), error = %e, "could not precompress an asset; it is compressed per request");
        }
    }
}
