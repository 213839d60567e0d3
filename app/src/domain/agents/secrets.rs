//! Client secrets: 256 random bits, shown once, stored as HMAC-SHA256 under
//! the server's secret-hash key (a fast keyed hash suits random secrets and
//! keeps the token endpoint fast).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::domain::keys::ServerKeys;

/// Shown to the user once, at creation and at rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret(pub String);

pub fn hash_secret(keys: &ServerKeys, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&keys.secret_hash_key).expect("any key length");
    mac.update(secret.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of a presented secret with the stored hash.
pub fn secret_matches(keys: &ServerKeys, secret: &str, stored_hash: &str) -> bool {
    let Ok(stored) = B64.decode(stored_hash) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&keys.secret_hash_key).expect("any key length");
    mac.update(secret.as_bytes());
    mac.verify_slice(&stored).is_ok()
}

pub(super) fn new_secret() -> ClientSecret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    ClientSecret(format!("ais_{}", B64.encode(bytes)))
}
