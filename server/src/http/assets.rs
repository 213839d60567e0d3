//! The built browser assets (`/pkg`: CSS, the islands' JS and wasm). They
//! change only with a build, so they are compressed once, at start-up, at
//! the best gzip level, and served as files; pages are compressed per
//! request at the fastest level instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::Router;
use flate2::write::GzEncoder;
use flate2::Compression;
use tower_http::services::ServeDir;

use crate::state::AppState;

fn pkg_dir(site_root: &str) -> PathBuf {
    Path::new(site_root).join("pkg")
}

/// `/pkg/*`, answered with the `.gz` sibling when the browser takes gzip.
pub fn router(site_root: &str) -> Router<AppState> {
    Router::new().nest_service(
        "/pkg",
        ServeDir::new(pkg_dir(site_root)).precompressed_gzip(),
    )
}

/// Writes `NAME.gz` beside every asset that has none or an older one. A
/// read-only site root is not an error: the assets are then served as they
/// are (and compressed per request).
pub fn precompress(site_root: &str) {
    let Ok(entries) = std::fs::read_dir(pkg_dir(site_root)) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
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
