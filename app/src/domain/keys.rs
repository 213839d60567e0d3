//! Keys the server makes for itself on first start and keeps in the database,
//! so every instance signs and verifies with the same ones: Ed25519 token
//! signing keys (published as a JWKS) and the key of the client-secret hash.
//! They are sealed at rest (ChaCha20-Poly1305, bound to their kid) with the
//! operator's master key, which never enters the database: a copy of the
//! database alone signs no token.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use rand::RngCore;
use serde_json::json;

use super::{Db, Error, Result};

const SECRET_HASH_KID: &str = "secret-hash-v1";

/// One Ed25519 token-signing key.
#[derive(Clone)]
pub struct SigningKeyPair {
    pub kid: String,
    /// Kept expanded: `jsonwebtoken::encode` would parse the key again for
    /// every token, deriving its public half each time (a second curve
    /// multiplication as costly as the signature). Shared: AWS-LC's key
    /// pair cannot be cloned.
    signing: std::sync::Arc<Ed25519KeyPair>,
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

/// The key that seals the server keys: 32 bytes, from `PORTAL_MASTER_KEY`
/// or a key file (see the server's configuration).
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

const SEALED: &str = "sealed-v1:";

impl MasterKey {
    pub fn generate() -> MasterKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey(key)
    }

    /// 32 bytes in base64 (standard or URL-safe, padded or not).
    pub fn parse(text: &str) -> Result<MasterKey> {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let text = text.trim();
        let bytes = [&B64, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
            .ok_or_else(|| Error::invalid("the master key must be 32 bytes in base64"))?;
        Ok(MasterKey(bytes))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// `sealed-v1:` + base64(nonce ‖ ciphertext), bound to `kid`.
    fn seal(&self, kid: &str, secret: &[u8; 32]) -> Result<String> {
        seal(&self.0, kid, secret)
    }

    fn open(&self, kid: &str, stored: &str) -> Result<[u8; 32]> {
        let secret = open(&self.0, kid, stored).ok_or_else(|| {
            Error::Internal(format!(
                "server key {kid} does not open with this master key (or is malformed): every \
                 instance needs the master key the keys were sealed with"
            ))
        })?;
        <[u8; 32]>::try_from(secret.as_slice())
            .map_err(|_| Error::Internal(format!("server key {kid} is malformed")))
    }
}

/// Seals `msg` under `key` (ChaCha20-Poly1305, a random nonce), bound to
/// `aad`: `sealed-v1:` + base64(nonce ‖ ciphertext).
pub(crate) fn seal(key: &[u8; 32], aad: &str, msg: &[u8]) -> Result<String> {
    let nonce = ChaCha20Poly1305::generate_nonce(&mut chacha20poly1305::aead::OsRng);
    let sealed = ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(
            &nonce,
            Payload {
                msg,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| Error::Internal("sealing failed".into()))?;
    Ok(format!(
        "{SEALED}{}",
        B64.encode([nonce.as_slice(), &sealed].concat())
    ))
}

/// What [`seal`] sealed under `key` and `aad`; `None` if `stored` is not
/// that.
pub(crate) fn open(key: &[u8; 32], aad: &str, stored: &str) -> Option<Vec<u8>> {
    let raw = B64
        .decode(stored.strip_prefix(SEALED)?)
        .ok()
        .filter(|raw| raw.len() > 12)?;
    let (nonce, sealed) = raw.split_at(12);
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .ok()
}

/// Whether `stored` is in [`seal`]'s format (not whether it opens).
pub(crate) fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

impl ServerKeys {
    /// Loads the keys, generating the missing ones; a key not sealed with
    /// the master key is refused (see [`seal_clear_keys`]).
    pub async fn load_or_create(db: &Db, master: &MasterKey, now: i64) -> Result<ServerKeys> {
        let mut random = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut random);
        // Concurrent first starts: whoever inserts first wins, the rest read it.
        sqlx::query(
            "INSERT INTO server_keys (kid, purpose, algorithm, secret, created_at) \
             VALUES ($1, 'secret_hash', 'HMAC-SHA256', $2, $3) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(SECRET_HASH_KID)
        .bind(master.seal(SECRET_HASH_KID, &random)?)
        .bind(now)
        .execute(&db.pool)
        .await?;

        let has_signing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM server_keys WHERE purpose = 'token_signing'")
                .fetch_one(&db.pool)
                .await?;
        if has_signing == 0 {
            insert_signing_key(db, master, now).await?;
        }

        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT kid, purpose, secret FROM server_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(&db.pool)
        .await?;
        let mut signing = Vec::new();
        let mut secret_hash_key = None;
        for (kid, purpose, stored) in rows {
            // Only a key sealed with the master key is ours: one in the
            // clear may have been planted by whoever could write to the
            // database (a signing key to sign tokens of their own, a
            // secret-hash key to mint agent secrets). An operator seals a
            // genuine key of a database from before sealing with `portal
            // keys seal`.
            if !is_sealed(&stored) {
                return Err(Error::Internal(format!(
                    "server key {kid} is stored in the clear, not sealed with the master key: \
                     refused. If this database comes from a version before keys were sealed, \
                     check it is yours with `portal keys seal` and seal it with `portal keys \
                     seal --kid {kid}`; otherwise someone else put the row there: delete it"
                )));
            }
            let secret = master.open(&kid, &stored)?;
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

    /// The key that seals mail bodies at rest: derived from the secret-hash
    /// key (so sealed at rest itself, and the same on every instance), for
    /// that purpose only.
    pub fn mail_body_key(&self) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.secret_hash_key)
            .expect("any key length");
        mac.update(b"portal mail bodies v1");
        mac.finalize().into_bytes().into()
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

impl SigningKeyPair {
    /// `claims` as a compact JWS (RFC 7515) signed with this key: EdDSA,
    /// with this key's `kid` in the header.
    pub fn sign_jwt(&self, claims: &impl serde::Serialize) -> Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let mut jwt = format!("{}.{}", json_part(&header)?, json_part(claims)?);
        let signature = self.signing.sign(jwt.as_bytes());
        jwt.push('.');
        jwt.push_str(&B64.encode(signature.as_ref()));
        Ok(jwt)
    }
}

fn json_part(value: &impl serde::Serialize) -> Result<String> {
    let json =
        serde_json::to_vec(value).map_err(|e| Error::Internal(format!("signing token: {e}")))?;
    Ok(B64.encode(json))
}

/// A key stored in the clear: kid, purpose, created_at and its secret.
type ClearKey = (String, String, i64, String);

async fn clear_rows(db: &Db) -> Result<Vec<ClearKey>> {
    let rows: Vec<ClearKey> = sqlx::query_as(
        "SELECT kid, purpose, created_at, secret FROM server_keys ORDER BY created_at",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(.., secret)| !secret.starts_with(SEALED))
        .collect())
}

/// The keys stored in the clear: (kid, purpose, created_at).
pub async fn clear_keys(db: &Db) -> Result<Vec<(String, String, i64)>> {
    Ok(clear_rows(db)
        .await?
        .into_iter()
        .map(|(kid, purpose, created_at, _)| (kid, purpose, created_at))
        .collect())
}

/// `portal keys seal --kid KID`: seals keys a version before sealing stored
/// in the clear, which the portal refuses to load (it cannot tell them from
/// planted ones: naming them is the operator's word that they are
/// genuine). Returns the kids sealed; a kid not in the clear is an error.
pub async fn seal_clear_keys(db: &Db, master: &MasterKey, kids: &[String]) -> Result<Vec<String>> {
    let clear = clear_rows(db).await?;
    if let Some(unknown) = kids
        .iter()
        .find(|kid| !clear.iter().any(|(k, ..)| k == *kid))
    {
        return Err(Error::invalid(format!(
            "no key {unknown} is stored in the clear"
        )));
    }
    let mut sealed = Vec::new();
    for (kid, _, _, stored) in clear.into_iter().filter(|(k, ..)| kids.contains(k)) {
        let secret = decode32(&stored)?;
        sqlx::query("UPDATE server_keys SET secret = $1 WHERE kid = $2 AND secret = $3")
            .bind(master.seal(&kid, &secret)?)
            .bind(&kid)
            .bind(&stored)
            .execute(&db.pool)
            .await?;
        sealed.push(kid);
    }
    Ok(sealed)
}

/// A new Ed25519 signing key, sealed; returns its kid.
async fn insert_signing_key(db: &Db, master: &MasterKey, created_at: i64) -> Result<String> {
    let mut random = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let key = ed25519_key_pair(&random)?;
    let kid = format!(
        "ed25519-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    sqlx::query(
        "INSERT INTO server_keys (kid, purpose, algorithm, secret, public_key, created_at) \
         VALUES ($1, 'token_signing', 'EdDSA', $2, $3, $4)",
    )
    .bind(&kid)
    .bind(master.seal(&kid, &random)?)
    .bind(B64.encode(key.public_key().as_ref()))
    .bind(created_at)
    .execute(&db.pool)
    .await?;
    Ok(kid)
}

/// `portal keys rotate`: a new signing key becomes the current one (the
/// newest); the old ones stay published until `retire` removes them.
pub async fn rotate(db: &Db, master: &MasterKey, now: i64) -> Result<String> {
    let newest: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(created_at) FROM server_keys WHERE purpose = 'token_signing'",
    )
    .fetch_one(&db.pool)
    .await?;
    // Strictly newer, so that "newest first" is never a tie.
    insert_signing_key(db, master, newest.map_or(now, |n| now.max(n + 1))).await
}

/// Removes the signing keys no valid token can name any more: superseded by
/// a newer key for longer than a token lives (plus a minute of clock skew).
/// Returns their kids.
pub async fn retire(db: &Db, now: i64) -> Result<Vec<String>> {
    let keys: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kid, created_at FROM server_keys WHERE purpose = 'token_signing' \
         ORDER BY created_at DESC, kid",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut retired = Vec::new();
    // Each key stopped signing when the one before it (newer) was created.
    for pair in keys.windows(2) {
        let ((_, superseded_at), (kid, _)) = (&pair[0], &pair[1]);
        if now > superseded_at + super::tokens::TOKEN_TTL_SECS + 60 {
            sqlx::query("DELETE FROM server_keys WHERE kid = $1")
                .bind(kid)
                .execute(&db.pool)
                .await?;
            retired.push(kid.clone());
        }
    }
    Ok(retired)
}

/// The keys in use, swapped whole when an instance reloads them (after a
/// rotation or retirement, made by any instance or the CLI).
#[derive(Debug)]
pub struct Keyring(std::sync::RwLock<std::sync::Arc<ServerKeys>>);

impl Keyring {
    pub fn new(keys: ServerKeys) -> Keyring {
        Keyring(std::sync::RwLock::new(std::sync::Arc::new(keys)))
    }

    pub fn get(&self) -> std::sync::Arc<ServerKeys> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, keys: ServerKeys) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(keys);
    }
}

fn decode32(text: &str) -> Result<[u8; 32]> {
    B64.decode(text)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| Error::Internal("malformed server key".into()))
}

fn signing_pair(kid: String, secret: &[u8; 32]) -> Result<SigningKeyPair> {
    let key = ed25519_key_pair(secret)?;
    let public = key.public_key().as_ref();
    Ok(SigningKeyPair {
        kid,
        decoding: DecodingKey::from_ed_der(public),
        public_x: B64.encode(public),
        signing: std::sync::Arc::new(key),
    })
}

/// The Ed25519 key pair of a 32-byte secret (RFC 8032's seed).
fn ed25519_key_pair(secret: &[u8; 32]) -> Result<Ed25519KeyPair> {
    Ed25519KeyPair::from_seed_unchecked(secret)
        .map_err(|e| Error::Internal(format!("Ed25519 key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_master_key_and_kid() {
        let master = MasterKey::generate();
        let secret = [7u8; 32];
        let sealed = master.seal("kid-1", &secret).unwrap();
        assert!(sealed.starts_with(SEALED));
        assert!(!sealed.contains(&B64.encode(secret)));
        assert_eq!(master.open("kid-1", &sealed).unwrap(), secret);
        assert!(master.open("kid-2", &sealed).is_err(), "bound to its kid");
        assert!(MasterKey::generate().open("kid-1", &sealed).is_err());
        let parsed = MasterKey::parse(&master.to_base64()).unwrap();
        assert_eq!(parsed.open("kid-1", &sealed).unwrap(), secret);
        assert!(MasterKey::parse("too short").is_err());
    }

    /// RFC 8032's first test vector: any Ed25519 verifier accepts what we
    /// sign and publish.
    #[test]
    fn keys_sign_as_rfc_8032_says() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let secret = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let pair = signing_pair("kid-1".into(), &secret.try_into().unwrap()).unwrap();
        assert_eq!(
            B64.decode(&pair.public_x).unwrap(),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        assert_eq!(
            pair.signing.sign(b"").as_ref(),
            hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065\
                 224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        );
    }

    #[test]
    fn signed_tokens_verify_with_the_published_key_only() {
        let pair = signing_pair("kid-1".into(), &[9u8; 32]).unwrap();
        let claims =
            serde_json::json!({ "sub": "agent", "aud": "portal", "exp": 4_000_000_000i64 });
        let token = pair.sign_jwt(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::EdDSA, Some("kid-1"))
        );
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["portal"]);
        let decoded =
            jsonwebtoken::decode::<serde_json::Value>(&token, &pair.decoding, &validation).unwrap();
        assert_eq!(decoded.claims, claims);
        let other = signing_pair("kid-2".into(), &[8u8; 32]).unwrap();
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(&token, &other.decoding, &validation)
                .is_err()
        );
        let mut tampered = token.clone();
        tampered.insert_str(token.find('.').unwrap() + 1, "e30");
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(&tampered, &pair.decoding, &validation)
                .is_err()
        );
    }
}
