//! Pages are gzipped whole, here, rather than by tower-http's streaming
//! layer (which still compresses everything else: exports, API answers).
//!
//! Why: a page is rendered in full before it is sent (every route renders in
//! `SsrMode::Async`), yet the streaming encoder set up a new zlib state per
//! response (as costly as compressing a small page), re-read the body through
//! async buffers and sent it chunked. One buffer in, one buffer out with its
//! length, through a compressor each thread keeps: libdeflate's fastest level
//! compresses as tightly as zlib's level 2 in half the time (/settings/tier:
//! 1,231 bytes in 10 µs against 1,268 in 25 µs).
//!
//! Most of a big page is a memoised view (the rows of `/agents`, Analytics'
//! charts) that many requests share: it is deflated once, kept beside its
//! HTML ([`Fragment`]), and spliced into each page's stream. The parts
//! around it are deflated as stream segments of their own, each ending on a
//! byte boundary (a sync flush), so the segments join into one valid stream;
//! a page's head repeats for each member and page, so its segments are kept
//! by their bytes. The last part is libdeflate's, which closes the stream
//! (or, when short, a stored block).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::{Compress, Compression, FlushCompress};
use http_body_util::BodyExt;
use libdeflater::{CompressionLvl, Compressor};

use app::domain::Problem;
use app::model::page_fragments::{Fragment, PageFragments};

use super::error::PageError;

thread_local! {
    /// Level 1: libdeflate's `fastest()` is level 0, which stores.
    static COMPRESSOR: RefCell<Compressor> = RefCell::new(Compressor::new(
        CompressionLvl::new(1).expect("1 is one of libdeflate's levels"),
    ));
    /// The parts of a page before a fragment that are too long to keep:
    /// zlib, as libdeflate cannot leave a stream open. Level 1 (fixed codes
    /// only): building a segment's own codes cost more than its bytes.
    static SEGMENTS: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(1), false));
    /// Fragments and kept segments, deflated once each: worth a tighter level.
    static DEFLATED_ONCE: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(6), false));
    /// Segments deflated lately, by their bytes. A page's head (the layout
    /// above its memoised view: tenant, member, navigation) is the same on
    /// every request of one member to one page, and each deflate of it paid
    /// zlib's reset (128 kB zeroed) again: 7 % of /agents' CPU.
    static DEFLATED_SEGMENTS: RefCell<DeflatedByBytes> = RefCell::default();
}

/// Deflated segments by the bytes they were deflated from.
type DeflatedByBytes = HashMap<Box<[u8]>, Box<[u8]>>;

/// Segments kept per thread; when full, the cache starts over (a miss
/// costs one deflate, so no bookkeeping of which is oldest).
const DEFLATED_SEGMENTS_KEPT: usize = 256;

/// A longer segment is deflated each time, never kept.
const MAX_KEPT_SEGMENT: usize = 8 * 1024;

/// Smaller views are not worth a stream segment of their own.
const MIN_FRAGMENT: usize = 1024;

/// A smaller page is deflated whole: one stream with codes of its own is
/// tighter than segments with theirs. Above it, splicing costs bytes on
/// small pages (/settings/tier, 3.1 kB: 1,417 gzip bytes against 1,227
/// whole) but saves the whole page's deflate, a tenth of its CPU.
const MIN_SPLICED_PAGE: usize = 2 * 1024;

/// A page's end after its last fragment (the closing tags and the scripts
/// with the request's nonce, on /agents 436 bytes) is stored, not deflated,
/// up to this size: libdeflate's set-up alone took 10 of the 12 µs it spent
/// on those 436 bytes, to save 150 bytes.
const STORED_TAIL: usize = 512;

/// A gzip member's header: deflate, no name, no time, unknown system.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Gzips an HTML response for a client that accepts gzip; anything else
/// passes through untouched.
pub async fn html(mut req: Request, next: Next) -> Response {
    let gzip = accepts_gzip(req.headers());
    let fragments = PageFragments::default();
    if gzip {
        req.extensions_mut().insert(fragments.clone());
    }
    let res = next.run(req).await;
    let html = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if !gzip || !html || res.headers().contains_key(CONTENT_ENCODING) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let page = match body.collect().await {
        Ok(page) => page.to_bytes(),
        Err(e) => return PageError::Problem(Problem::internal(&e)).into_response(),
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts
        .headers
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, Body::from(gzipped(&page, &fragments.take())))
}

/// `page` gzipped, with the deflated forms of the `fragments` found in it.
fn gzipped(page: &[u8], fragments: &[Arc<Fragment>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(page.len() / 3 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    let mut at = 0;
    let fragments = if page.len() < MIN_SPLICED_PAGE {
        &[]
    } else {
        fragments
    };
    for (start, fragment) in in_page_order(page, fragments) {
        if start > at {
            deflate_segment(&page[at..start], &mut out);
        }
        let deflated = fragment.deflated(|html| {
            let mut deflated = Vec::with_capacity(html.len() / 4 + 64);
            DEFLATED_ONCE.with_borrow_mut(|c| deflate_open(c, html, &mut deflated));
            deflated
        });
        out.extend_from_slice(deflated);
        at = start + fragment.html().len();
    }
    let rest = &page[at..];
    if at > 0 && rest.len() <= STORED_TAIL {
        // After a segment the stream is on a byte boundary: a final stored
        // block is its header, the length twice and the bytes.
        let len = rest.len() as u16;
        out.push(0b001);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(rest);
    } else {
        COMPRESSOR.with_borrow_mut(|c| {
            let len = out.len();
            out.resize(len + c.deflate_compress_bound(rest.len()), 0);
            let written = c
                .deflate_compress(rest, &mut out[len..])
                .expect("the buffer holds the bound libdeflate gives");
            out.truncate(len + written);
        });
    }
    out.extend_from_slice(&libdeflater::crc32(page).to_le_bytes());
    // ISIZE is the length modulo 2^32.
    out.extend_from_slice(&(page.len() as u32).to_le_bytes());
    out
}

/// Where the fragments are in `page`, first first, none overlapping (a
/// retried render may have added one twice).
fn in_page_order<'f>(page: &[u8], fragments: &'f [Arc<Fragment>]) -> Vec<(usize, &'f Fragment)> {
    let mut found: Vec<(usize, &Fragment)> = fragments
        .iter()
        .filter(|f| f.html().len() >= MIN_FRAGMENT)
        .filter_map(|f| find(page, f.html().as_bytes()).map(|at| (at, &**f)))
        .collect();
    found.sort_by_key(|(at, _)| *at);
    let mut end = 0;
    found.retain(|(at, f)| {
        let keep = *at >= end;
        if keep {
            end = at + f.html().len();
        }
        keep
    });
    found
}

/// Where `html` starts in `page`. Looking for its first bytes, then comparing
/// the rest: a searcher for the whole fragment costs more to build than
/// compressing it.
fn find(page: &[u8], html: &[u8]) -> Option<usize> {
    let head = &html[..html.len().min(64)];
    memchr::memmem::find_iter(page, head).find(|&at| page[at..].starts_with(html))
}

/// Appends `segment` deflated as [`deflate_open`] does, from the cache
/// when the same bytes were deflated lately. The cache holds only what this
/// server rendered for some request, keyed by all of its bytes: a hit is the
/// answer a miss would compute.
fn deflate_segment(segment: &[u8], out: &mut Vec<u8>) {
    if segment.len() > MAX_KEPT_SEGMENT {
        return SEGMENTS.with_borrow_mut(|c| deflate_open(c, segment, out));
    }
    DEFLATED_SEGMENTS.with_borrow_mut(|kept| {
        if let Some(deflated) = kept.get(segment) {
            return out.extend_from_slice(deflated);
        }
        let mut deflated = Vec::with_capacity(segment.len() / 2 + 64);
        DEFLATED_ONCE.with_borrow_mut(|c| deflate_open(c, segment, &mut deflated));
        out.extend_from_slice(&deflated);
        if kept.len() >= DEFLATED_SEGMENTS_KEPT {
            kept.clear();
        }
        kept.insert(segment.into(), deflated.into());
    })
}

/// Appends `data` deflated as a segment that leaves the stream open and ends
/// on a byte boundary, sharing nothing with what comes before or after it.
fn deflate_open(compress: &mut Compress, data: &[u8], out: &mut Vec<u8>) {
    compress.reset();
    loop {
        out.reserve(data.len() / 2 + 64);
        let read = compress.total_in() as usize;
        compress
            .compress_vec(&data[read..], out, FlushCompress::Sync)
            .expect("deflate takes any input");
        // The flush is whole once the input is in and room was left over.
        if compress.total_in() as usize == data.len() && out.len() < out.capacity() {
            return;
        }
    }
}

/// Whether `Accept-Encoding` admits gzip: named (or `*`, when gzip is not
/// named) with a weight above zero. `gzip;q=0` refuses it.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    let codings = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for coding in codings {
        let mut params = coding.split(';');
        let name = params.next().unwrap_or_default().trim();
        let weight = params
            .find_map(|p| {
                let (key, value) = p.split_once('=')?;
                key.trim().eq_ignore_ascii_case("q").then_some(value.trim())
            })
            .map_or(Some(1.0), |q| q.parse::<f32>().ok())
            .unwrap_or(0.0);
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(weight);
        } else if name == "*" {
            any = Some(weight);
        }
    }
    gzip.or(any).is_some_and(|w| w > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_taken_only_when_the_client_accepts_it() {
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(accepts("identity, x-gzip"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip; q=0.0, *"));
        assert!(!accepts("*;q=0"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("gzip;q=nonsense"));
        assert!(!accepts(""));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    fn inflated(gzipped: &[u8]) -> String {
        use std::io::Read;
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(gzipped)
            .read_to_string(&mut inflated)
            .unwrap();
        inflated
    }

    fn rows(from: usize, to: usize) -> String {
        (from..to)
            .map(|i| format!("<tr><td>agent-{i}</td></tr>"))
            .collect()
    }

    #[test]
    fn a_gzipped_page_is_smaller_and_inflates_to_itself() {
        let page = rows(0, 500);
        let gzipped = gzipped(page.as_bytes(), &[]);
        assert!(gzipped.len() < page.len() / 4, "{} bytes", gzipped.len());
        assert_eq!(inflated(&gzipped), page);
    }

    #[test]
    fn shared_fragments_are_spliced_in_deflated_once() {
        let fragment = |html: String| Arc::new(Fragment::new(html.into()));
        let (table, chart) = (fragment(rows(0, 300)), fragment(rows(1000, 1100)));
        let small = fragment("<p>too small to splice</p>".into());
        let absent = fragment(rows(5000, 5100));
        let pages = [
            format!("<main>{}<hr>{}</main>", table.html(), chart.html()),
            // At either end, and right after each other.
            format!("{}{}", table.html(), chart.html()),
            // Twice over (a retried render adds its fragments again).
            format!("<h1>{}</h1>{}", small.html(), table.html()),
            // A page's end past what is stored rather than deflated.
            format!("{}{}", table.html(), rows(7000, 7100)),
        ];
        for page in &pages {
            let all = [&table, &chart, &table, &small, &absent].map(|f| (*f).clone());
            let gzipped = gzipped(page.as_bytes(), &all);
            assert_eq!(&inflated(&gzipped), page);
            assert!(gzipped.len() < page.len() / 4, "{} bytes", gzipped.len());
        }
        for spliced in [&table, &chart] {
            spliced.deflated(|_| unreachable!("deflated once already"));
        }
        for left in [&small, &absent] {
            assert_eq!(left.deflated(|_| b"never asked".to_vec()), b"never asked");
        }
    }

    fn kept_segments() -> usize {
        DEFLATED_SEGMENTS.with_borrow(|kept| kept.len())
    }

    #[test]
    fn a_repeated_head_is_deflated_once_and_the_cache_stays_bounded() {
        let table = Arc::new(Fragment::new(rows(0, 300).into()));
        let page = |who: usize| format!("<header>member-{who}</header>{}", table.html());
        let first = gzipped(page(1).as_bytes(), std::slice::from_ref(&table));
        let kept = kept_segments();
        assert!(kept >= 1);
        let again = gzipped(page(1).as_bytes(), std::slice::from_ref(&table));
        assert_eq!(again, first, "a kept head deflates as it did");
        assert_eq!(kept_segments(), kept, "and is not kept twice");
        // Another member's head is its own segment, not the first one's.
        let other = gzipped(page(2).as_bytes(), std::slice::from_ref(&table));
        assert_eq!(inflated(&other), page(2));
        for who in 0..2 * DEFLATED_SEGMENTS_KEPT {
            let gzipped = gzipped(page(who).as_bytes(), std::slice::from_ref(&table));
            assert_eq!(inflated(&gzipped), page(who));
            assert!(kept_segments() <= DEFLATED_SEGMENTS_KEPT);
        }
    }
}
