//! The built browser assets (`/pkg`: CSS, the islands' JS and wasm;
//! `/scripts`: the islands' loader, from `public/scripts`; and the icon,
//! `/favicon.svg`). They change only with a build, so they are compressed
//! once, at start-up, at the best gzip level, and served as files; pages
//! are compressed per request instead.
//! Pages link them under the build's version (`?v=`, a digest of every
//! asset): asked for under the current one, an asset may be kept for good;
//! otherwise (no version, or another build's) it is revalidated.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use tower_http::services::{ServeDir, ServeFile};

use app::model::assets::FAVICON;

use crate::state::AppState;

/// The site root's directories served as built files (`pkg` is Leptos' output).
const DIRS: [&str; 2] = ["pkg", "scripts"];

/// True for the paths of built files (which browsers may cache).
pub fn is_asset(path: &str) -> bool {
    path == FAVICON
        || DIRS.iter().any(|dir| {
            path.strip_prefix('/')
                .and_then(|p| p.strip_prefix(dir))
                .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// `/pkg/*` and `/scripts/*`, answered with the `.gz` sibling when the
/// browser takes gzip, and the icon, with how long the browser may keep
/// them.
pub fn router(state: &AppState) -> Router<AppState> {
    let site_root = Path::new(&state.config.site_root);
    let icon = ServeFile::new(site_root.join(icon_file()));
    DIRS.iter()
        .fold(Router::new().route_service(FAVICON, icon), |router, dir| {
            router.nest_service(
                &format!("/{dir}"),
                ServeDir::new(site_root.join(dir)).precompressed_gzip(),
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), cache_control))
}

/// Kept for a year and never revalidated when asked for under this build's
/// version (a new build links new URLs); otherwise revalidated on each use.
async fn cache_control(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let version = &state.assets.version;
    let current = !version.is_empty()
        && req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("v="))
            .is_some_and(|v| v == &**version);
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        let value = if current {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

/// The build's version: a digest of every asset's name and bytes (12 hex
/// digits), so any rebuilt file gives every asset a new URL. Unreadable
/// files count as absent.
pub fn version(site_root: &str) -> String {
    let mut files: Vec<PathBuf> = built_files(site_root)
        .filter(|p| p.extension().is_none_or(|e| e != "gz"))
        .collect();
    files.sort();
    let mut digest = Sha256::new();
    for path in files {
        if let Ok(bytes) = std::fs::read(&path) {
            let name = path.strip_prefix(site_root).unwrap_or(&path);
            digest.update(name.to_string_lossy().as_bytes());
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(&bytes);
        }
    }
    digest.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The icon's file, relative to the site root.
fn icon_file() -> &'static str {
    FAVICON.trim_start_matches('/')
}

/// The files in the asset folders (not below them), and the icon.
fn built_files(site_root: &str) -> impl Iterator<Item = PathBuf> + '_ {
    let root = Path::new(site_root);
    DIRS.iter()
        .filter_map(move |dir| std::fs::read_dir(root.join(dir)).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .chain(Some(root.join(icon_file())).filter(|icon| icon.is_file()))
}

/// Writes `NAME.gz` beside every asset that has none or an older one. A
/// read-only site root is not an error: the assets are then served as they
/// are (and compressed per request).
pub fn precompress(site_root: &str) {
    for path in built_files(site_root) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_changes_with_any_built_file_and_only_then() {
        let site = tempfile::tempdir().unwrap();
        let root = site.path().to_str().unwrap();
        let write = |path: &str, body: &str| {
            let file = site.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, body).unwrap();
        };
        write("pkg/portal.css", "body { color: black }");
        write("pkg/portal.wasm", "wasm");
        write("scripts/islands.js", "// the loader");
        let first = version(root);
        assert_eq!(first.len(), 12);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
        assert_eq!(version(root), first, "the same files, the same version");
        precompress(root);
        assert_eq!(version(root), first, "the .gz siblings do not count");
        // Another folder with the same files: the same build.
        let copy = tempfile::tempdir().unwrap();
        for path in ["pkg/portal.css", "pkg/portal.wasm", "scripts/islands.js"] {
            let file = copy.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::copy(site.path().join(path), file).unwrap();
        }
        assert_eq!(version(copy.path().to_str().unwrap()), first);
        write("pkg/portal.wasm", "wasm, rebuilt");
        assert_ne!(version(root), first, "a rebuilt file, a new version");
    }
}
