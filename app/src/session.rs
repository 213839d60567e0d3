//! What the pages know about the signed-in member. The server's auth guard
//! puts a [`CurrentMember`] into the request before any page renders, and
//! the tenant's [`Standing`] for the quota banner.

use crate::model::tiers::Standing;
use crate::model::CurrentMember;

/// The member of the request being rendered (server side only).
pub fn current_member() -> Option<CurrentMember> {
    put_into_request()
}

/// The standing of the member's tenant, as the server read it for this
/// page (server side only). Read before the render rather than by the
/// banner itself: an async part of every page cost a sixth of its CPU.
pub fn current_standing() -> Option<Standing> {
    put_into_request()
}

/// What the server put into the request being rendered.
pub(crate) fn put_into_request<T: Clone + Send + Sync + 'static>() -> Option<T> {
    #[cfg(feature = "ssr")]
    {
        // Borrowed, not `use_context`: that clones the whole request (headers,
        // every extension) for each value a page asks for.
        leptos::prelude::with_context::<http::request::Parts, _>(|parts| {
            parts.extensions.get::<T>().cloned()
        })
        .flatten()
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// Whether anyone may sign up (`SIGNUP=open`); pages render on the server.
pub fn signup_open() -> bool {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<crate::domain::Services>().is_some_and(|s| s.signup_open)
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// Where to go after signing in: only same-site relative paths are honoured.
pub fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/analytics";
    let Some(next) = next.map(str::trim).filter(|n| !n.is_empty()) else {
        return HOME.into();
    };
    let same_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && !next.starts_with("/login")
        && !next.starts_with("/signup");
    if same_site {
        next.into()
    } else {
        HOME.into()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_relative_same_site_paths_are_followed() {
        assert_eq!(safe_next(Some("/settings/tier")), "/settings/tier");
        assert_eq!(safe_next(Some("/analytics?days=7")), "/analytics?days=7");
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "evil",
            "/login?next=/x",
            "/signup",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/analytics", "{bad:?} followed");
        }
        assert_eq!(safe_next(None), "/analytics");
    }
}
