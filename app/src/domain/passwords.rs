//! Member passwords: argon2id hashes (PHC strings), verified off the async runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::Rng;
use tokio::sync::Semaphore;

use super::{Error, Result};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 1024;

/// A password someone chooses (sign-up, reset, change, invitation): at
/// least [`NEW_MIN_LENGTH`] characters and hard to guess by the zxcvbn
/// estimate, with `context` (their e-mail, the organisation) counted as
/// known to a guesser. The error says why, on the `password` field.
pub fn check_new(password: &str, context: &[&str]) -> Result<()> {
    let refuse = |why: String| Err(Error::invalid_field("password", why));
    let n = password.chars().count();
    if n < NEW_MIN_LENGTH {
        return refuse(format!(
            "Use at least {NEW_MIN_LENGTH} characters (this one has {n}); a few unrelated words make a strong one."
        ));
    }
    if n > MAX_LENGTH {
        return refuse(format!("Use at most {MAX_LENGTH} characters."));
    }
    // zxcvbn is slow on very long input; past 100 characters length wins.
    let head: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&head, context);
    if u8::from(estimate.score()) >= 3 {
        return Ok(());
    }
    let mut why = String::from("This password is too easy to guess.");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            why.push_str(&format!(" {warning}."));
        }
        for suggestion in feedback.suggestions() {
            why.push_str(&format!(" {suggestion}."));
        }
    }
    refuse(why.replace("..", "."))
}

pub const NEW_MIN_LENGTH: usize = 12;

/// The floor for passwords an operator sets (and the demo's).
pub fn validate(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(Error::invalid(format!(
            "password must be at least {MIN_LENGTH} characters"
        )));
    }
    if n > MAX_LENGTH {
        return Err(Error::invalid(format!(
            "password must be at most {MAX_LENGTH} characters"
        )));
    }
    Ok(())
}

/// Argon2 takes about 19 MiB and a core for each hash: at most one per core
/// runs at a time, a few more may wait, and beyond that the caller is told
/// to come back (503) instead of memory and latency growing without bound.
struct Hashing {
    running: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

static HASHING: LazyLock<Hashing> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Hashing {
        running: Semaphore::new(cores),
        waiting: AtomicUsize::new(0),
        max_waiting: 8 * cores,
    }
});

/// Runs `work` (a hash or a verification) within the bound.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let h = &*HASHING;
    if h.waiting.fetch_add(1, Ordering::SeqCst) >= h.max_waiting {
        h.waiting.fetch_sub(1, Ordering::SeqCst);
        return Err(Error::Busy {
            retry_after_secs: 1,
        });
    }
    // Counted as waiting until it runs, even if the request is dropped
    // (the client went away) while it waits.
    let waiting = Waiting(&h.waiting);
    let permit = h.running.acquire().await;
    drop(waiting);
    let _permit = permit.map_err(|e| Error::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub async fn hash(password: String) -> Result<String> {
    bounded(move || hash_blocking(&password)).await?
}

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing password: {e}")))
}

/// Verifies `password` against `stored`, or against a throw-away hash when the
/// account does not exist, so that both answers take the same time.
/// `Err(Busy)` when too many hashes are already running or waiting.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    bounded(move || {
        let stored = stored.as_deref().unwrap_or(&DUMMY_HASH);
        let ok = PasswordHash::new(stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && stored != DUMMY_HASH.as_str()
    })
    .await
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking("not a real password, only spends the same time").expect("argon2 works")
});

/// A password for an operator to hand over: 20 characters from an unambiguous alphabet.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }

    #[test]
    fn chosen_passwords_must_be_long_and_hard_to_guess() {
        let why = |p: &str| {
            check_new(p, &["ada@example.com", "Acme"])
                .unwrap_err()
                .to_string()
        };
        assert!(why("short").contains("at least 12"));
        assert!(why("password1234").contains("too easy"));
        assert!(why("acmeacmeacme").contains("too easy"));
        assert!(check_new("violet staple engine harbour", &[]).is_ok());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate("1234567").is_err());
        assert!(validate("12345678").is_ok());
        assert_eq!(generate().len(), 20);
    }
}
