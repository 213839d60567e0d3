//! Member passwords: argon2id hashes (PHC strings), verified off the async runtime.

use std::sync::LazyLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::Rng;

use super::{Error, Result};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 1024;

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

pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
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
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
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
    .unwrap_or(false)
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
        assert!(verify("correct horse".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse".into(), Some(h)).await);
        assert!(!verify("anything".into(), None).await);
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate("1234567").is_err());
        assert!(validate("12345678").is_ok());
        assert_eq!(generate().len(), 20);
    }
}
