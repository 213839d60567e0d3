//! Keys the server makes for itself on first start and keeps in the database,
//! so every instance signs and verifies with the same ones: Ed25519 token
//! signing keys (published as a JWKS) and the key of the client-secret hash.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use serde_json::json;

use super::{Db, Error, Result};

const SECRET_HASH_KID: &str = "secret-hash-v1";

/// One Ed25519 token-signing key.
#[derive(Clone)]
pub struct SigningKeyPair {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The public key, base64url (the JWK `x`).
    pub public_x: String,
}

#[derive(Clone)]
pub struct ServerKeys {
    /// Newest first; the first one signs.
    pub signing: Vec<SigningKeyPair>,
    pub secret_hash_key: [u8; 32],
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys")
            .field(
                "signing",
                &self.signing.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ServerKeys {
    /// Loads the keys, generating the missing ones.
    pub async fn load_or_create(db: &Db, now: i64) -> Result<ServerKeys> {
        let mut random = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut random);
        // Concurrent first starts: whoever inserts first wins, the rest read it.
        sqlx::query(
            "INSERT INTO server_keys (kid, purpose, algorithm, secret, created_at) \
             VALUES ($1, 'secret_hash', 'HMAC-SHA256', $2, $3) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(SECRET_HASH_KID)
        .bind(B64.encode(random))
        .bind(now)
        .execute(&db.pool)
        .await?;

        let has_signing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM server_keys WHERE purpose = 'token_signing'")
                .fetch_one(&db.pool)
                .await?;
        if has_signing == 0 {
            rand::rngs::OsRng.fill_bytes(&mut random);
            let key = SigningKey::from_bytes(&random);
            let kid = format!(
                "ed25519-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            );
            sqlx::query(
                "INSERT INTO server_keys (kid, purpose, algorithm, secret, public_key, created_at) \
                 VALUES ($1, 'token_signing', 'EdDSA', $2, $3, $4)",
            )
            .bind(&kid)
            .bind(B64.encode(key.to_bytes()))
            .bind(B64.encode(key.verifying_key().to_bytes()))
            .bind(now)
            .execute(&db.pool)
            .await?;
        }

        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT kid, purpose, secret FROM server_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(&db.pool)
        .await?;
        let mut signing = Vec::new();
        let mut secret_hash_key = None;
        for (kid, purpose, secret) in rows {
            let secret = decode32(&secret)?;
            match purpose.as_str() {
                "secret_hash" => secret_hash_key = Some(secret),
                _ => signing.push(signing_pair(kid, &secret)?),
            }
        }
        Ok(ServerKeys {
            signing,
            secret_hash_key: secret_hash_key
                .ok_or_else(|| Error::Internal("secret-hash key missing".into()))?,
        })
    }

    pub fn current(&self) -> &SigningKeyPair {
        &self.signing[0]
    }

    pub fn by_kid(&self, kid: &str) -> Option<&SigningKeyPair> {
        self.signing.iter().find(|k| k.kid == kid)
    }

    /// The public keys as a JWKS (RFC 7517), for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .signing
            .iter()
            .map(|k| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": k.public_x,
                    "kid": k.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        json!({ "keys": keys })
    }
}

fn decode32(text: &str) -> Result<[u8; 32]> {
    B64.decode(text)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| Error::Internal("malformed server key".into()))
}

fn signing_pair(kid: String, secret: &[u8; 32]) -> Result<SigningKeyPair> {
    let key = SigningKey::from_bytes(secret);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| Error::Internal(format!("encoding signing key: {e}")))?;
    let public = key.verifying_key().to_bytes();
    Ok(SigningKeyPair {
        kid,
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        decoding: DecodingKey::from_ed_der(&public),
        public_x: B64.encode(public),
    })
}
