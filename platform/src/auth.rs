//! Bearer tokens: JWTs that name the caller in `sub`, signed with the deployment's shared secret
//! (HS256) or by an identity provider whose public keys (a JWKS document) Oxbow trusts (RS256,
//! ES256).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id: the token's subject, or `{iss}#{sub}` once verified where more than one
    /// issuer is trusted, so that two issuers' users of one subject stay two people.
    pub sub: String,
    /// The user's email, used to match invitations once the identity provider says it is
    /// verified (`email_verified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    pub iat: i64,
    pub exp: i64,
    /// Platform roles: `operator` names the platform's own staff (see [`Operators`]). Kept only
    /// from the deployment's own issuer (the first configured), or any signer when none is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oxbow_roles: Vec<String>,
    /// Who issued the token, and for whom: checked when Oxbow is configured with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    /// The email, when the token says it is verified: only then does it name a person.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified == Some(true))
    }
}

/// The platform's staff: tokens with `operator` in their `oxbow_roles` claim, and the users
/// named by configuration (`OXBOW_OPERATORS`). Operators see and do what no tenant may: the
/// dead letter's details today.
#[derive(Debug, Clone, Default)]
pub struct Operators(std::sync::Arc<std::collections::HashSet<String>>);

impl Operators {
    pub fn new(subs: impl IntoIterator<Item = String>) -> Operators {
        Operators(std::sync::Arc::new(subs.into_iter().collect()))
    }

    pub fn includes(&self, claims: &Claims) -> bool {
        claims.oxbow_roles.iter().any(|role| role == "operator") || self.0.contains(&claims.sub)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the Authorization header is missing")]
    Missing,
    #[error("the Authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("the token is invalid: {0}")]
    Invalid(String),
}

/// The longest subject (`sub`) a token may name.
pub const MAX_SUBJECT_BYTES: usize = 255;

/// An identity provider's public keys, by key id (`kid`), each with the one algorithm it
/// verifies: RS256 for RSA keys, ES256 for P-256 keys. Replaced whole when refreshed.
#[derive(Clone, Default)]
pub struct Jwks(Arc<RwLock<HashMap<String, (DecodingKey, Algorithm)>>>);

/// Where the keys come from: `OXBOW_JWKS` is a file path or an `http(s)://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(std::path::PathBuf),
    Url(String),
}

impl JwksSource {
    pub fn parse(source: &str) -> JwksSource {
        match source.starts_with("http://") || source.starts_with("https://") {
            true => JwksSource::Url(source.to_owned()),
            false => JwksSource::File(source.into()),
        }
    }

    async fn read(&self) -> anyhow::Result<String> {
        match self {
            JwksSource::File(path) => {
                tokio::fs::read_to_string(path).await.with_context(|| format!("reading {}", path.display()))
            }
            JwksSource::Url(url) => {
                let client = crate::tls::http_client().timeout(Duration::from_secs(10)).build()?;
                let response = client.get(url).send().await.with_context(|| format!("fetching {url}"))?;
                let response = response.error_for_status().with_context(|| format!("fetching {url}"))?;
                Ok(response.text().await?)
            }
        }
    }
}

impl Jwks {
    /// The keys of a JWKS document that can verify a signature: RSA (RS256) and P-256 (ES256)
    /// keys not reserved for encryption. A document with none is refused.
    pub fn parse(document: &str) -> anyhow::Result<Jwks> {
        let set: JwkSet = serde_json::from_str(document).context("the JWKS document is not a JSON Web Key Set")?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if jwk.common.public_key_use.as_ref().is_some_and(|usage| *usage != PublicKeyUse::Signature) {
                continue;
            }
            let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                    if ec.curve == jsonwebtoken::jwk::EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                _ => continue,
            };
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            keys.insert(jwk.common.key_id.clone().unwrap_or_default(), (key, algorithm));
        }
        anyhow::ensure!(!keys.is_empty(), "the JWKS document has no RS256 or ES256 signing key");
        Ok(Jwks(Arc::new(RwLock::new(keys))))
    }

    /// Reads the keys from `source`.
    pub async fn load(source: &JwksSource) -> anyhow::Result<Jwks> {
        Jwks::parse(&source.read().await?)
    }

    /// Reads `source` again every `every`, so rotated keys are trusted and retired ones not;
    /// a failed read keeps the keys there are.
    pub fn refresh(&self, source: JwksSource, every: Duration) -> tokio::task::JoinHandle<()> {
        let jwks = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match Jwks::load(&source).await {
                    Ok(fresh) => {
                        let keys = fresh.0.read().expect("jwks lock").clone();
                        *jwks.0.write().expect("jwks lock") = keys;
                    }
                    Err(error) => tracing::warn!(error = %format!("{error:#}"), "the JWKS could not be refreshed"),
                }
            }
        })
    }

    /// The key named `kid`, or the only key when the token names none.
    fn key(&self, kid: Option<&str>) -> Option<(DecodingKey, Algorithm)> {
        let keys = self.0.read().expect("jwks lock");
        match kid {
            Some(kid) => keys.get(kid).cloned(),
            None if keys.len() == 1 => keys.values().next().cloned(),
            None => None,
        }
    }
}

/// Signs and checks tokens: HS256 with one shared secret, and RS256 or ES256 with an identity
/// provider's keys when trusted. Cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    keys: std::sync::Arc<Keys>,
}

/// The token of an `Authorization` header value (`Bearer <token>`).
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let token =
        header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).ok_or(AuthError::Malformed)?;
    Ok(token.trim())
}

#[derive(Clone)]
struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    jwks: Option<Jwks>,
    /// The issuers a checked token may name in `iss` (any when empty); minted tokens name the
    /// first, whose tokens alone may carry platform roles.
    issuers: Vec<String>,
    /// What minted tokens say in `aud`, and what checked ones must say.
    audience: Option<String>,
}

impl Tokens {
    pub fn new(secret: &str) -> Tokens {
        Tokens::expecting(secret, &[], None)
    }

    /// Tokens that must name one of `issuers` in `iss` and `audience` in `aud`, each when given
    /// (an identity provider's tokens for this deployment and no other). `secret` is not empty:
    /// the configuration refuses one shorter than 32 bytes.
    pub fn expecting(secret: &str, issuers: &[String], audience: Option<&str>) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        let mut required = vec!["exp", "sub"];
        if !issuers.is_empty() {
            validation.set_issuer(issuers);
            required.push("iss");
        }
        match audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation.leeway = 30;
        let keys = Keys {
            encoding: EncodingKey::from_secret(secret.as_bytes()).expect("the secret is not empty"),
            decoding: DecodingKey::from_secret(secret.as_bytes()).expect("the secret is not empty"),
            validation,
            jwks: None,
            issuers: issuers.to_vec(),
            audience: audience.map(str::to_owned),
        };
        Tokens { keys: std::sync::Arc::new(keys) }
    }

    /// These tokens, also accepting the identity provider's signatures with `jwks`.
    pub fn trusting(&self, jwks: Jwks) -> Tokens {
        Tokens { keys: Arc::new(Keys { jwks: Some(jwks), ..Keys::clone(&self.keys) }) }
    }

    pub fn mint(&self, sub: &str, email: Option<&str>, ttl: chrono::Duration) -> String {
        self.mint_with_roles(sub, email, &[], ttl)
    }

    /// A token that also carries platform roles (`operator`) in `oxbow_roles`.
    pub fn mint_with_roles(&self, sub: &str, email: Option<&str>, roles: &[&str], ttl: chrono::Duration) -> String {
        let now = Utc::now().timestamp();
        self.sign(&Claims {
            sub: sub.to_owned(),
            email: email.map(str::to_owned),
            email_verified: email.map(|_| true),
            iat: now,
            exp: now + ttl.num_seconds(),
            oxbow_roles: roles.iter().map(|role| role.to_string()).collect(),
            iss: self.keys.issuers.first().cloned(),
            aud: self.keys.audience.clone(),
        })
    }

    /// A token carrying exactly `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.keys.encoding)
            .expect("HS256 signing does not fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let invalid = |error: jsonwebtoken::errors::Error| AuthError::Invalid(error.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        // The algorithm comes from the key, never from the token alone: a token cannot ask to
        // be checked with a public key as an HMAC secret.
        let (key, algorithm) = match header.alg {
            Algorithm::HS256 => (self.keys.decoding.clone(), Algorithm::HS256),
            Algorithm::RS256 | Algorithm::ES256 => {
                let jwks = self.keys.jwks.as_ref().ok_or_else(|| {
                    AuthError::Invalid(format!("{:?} tokens are not accepted here (no JWKS is configured)", header.alg))
                })?;
                jwks.key(header.kid.as_deref())
                    .filter(|(_, algorithm)| *algorithm == header.alg)
                    .ok_or_else(|| AuthError::Invalid("the token's key is not among the trusted keys".into()))?
            }
            other => return Err(AuthError::Invalid(format!("{other:?} tokens are not accepted"))),
        };
        let mut validation = self.keys.validation.clone();
        validation.algorithms = vec![algorithm];
        let mut data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(invalid)?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::Invalid("`sub` is empty".into()));
        }
        // The subject becomes every event's actor, in the log for ever: bounded, and text the
        // log can store.
        if data.claims.sub.len() > MAX_SUBJECT_BYTES || data.claims.sub.chars().any(char::is_control) {
            return Err(AuthError::Invalid(format!(
                "`sub` must be at most {MAX_SUBJECT_BYTES} bytes of text without control characters"
            )));
        }
        // Oxbow's own roles act as `system:…` (the sagas); no token may speak for them.
        if data.claims.sub.starts_with("system:") {
            return Err(AuthError::Invalid("subjects under `system:` are Oxbow's own".into()));
        }
        // An identity provider shared with other issuers speaks for its own users only: their
        // subjects are its namespace, and platform roles are the deployment's own issuer's word.
        let issuer = data.claims.iss.clone().unwrap_or_default();
        if self.keys.issuers.len() > 1 {
            data.claims.sub = format!("{issuer}#{}", data.claims.sub);
        }
        if self.keys.issuers.first().is_some_and(|own| *own != issuer) {
            data.claims.oxbow_roles.clear();
        }
        Ok(data.claims)
    }

    /// Checks an `Authorization` header value (`Bearer <jwt>`).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Claims, AuthError> {
        self.verify(bearer(header)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_too_long_or_with_control_characters_is_refused() {
        let tokens = Tokens::new("a-test-secret-of-at-least-32-bytes");
        let ttl = chrono::Duration::hours(1);
        assert!(tokens.verify(&tokens.mint_with_roles(&"a".repeat(255), None, &[], ttl)).is_ok());
        for sub in ["a".repeat(256), "alice\u{0}".into(), "ali\nce".into()] {
            let refused = tokens.verify(&tokens.mint_with_roles(&sub, None, &[], ttl));
            assert!(matches!(refused, Err(AuthError::Invalid(_))), "{sub:?}");
        }
    }

    #[test]
    fn operators_are_named_by_their_token_or_by_configuration() {
        let claims = |sub: &str, roles: &[&str]| Claims {
            sub: sub.into(),
            email: None,
            email_verified: None,
            iat: 0,
            exp: 0,
            oxbow_roles: roles.iter().map(|role| role.to_string()).collect(),
            iss: None,
            aud: None,
        };
        let operators = Operators::new(["ops".to_owned()]);
        assert!(operators.includes(&claims("ops", &[])));
        assert!(operators.includes(&claims("staff", &["operator"])));
        assert!(!operators.includes(&claims("alice", &["owner"])));
        // The claim reads from a token as the platform's identity provider writes it.
        let decoded: Claims =
            serde_json::from_value(serde_json::json!({"sub": "s", "iat": 0, "exp": 0, "oxbow_roles": ["operator"]}))
                .unwrap();
        assert!(Operators::default().includes(&decoded));
    }

    #[test]
    fn a_minted_token_verifies_and_another_secret_does_not() {
        let tokens = Tokens::new("s1");
        let token = tokens.mint("alice", Some("alice@example.com"), chrono::Duration::hours(1));
        let claims = tokens.verify_header(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!((claims.sub.as_str(), claims.email.as_deref()), ("alice", Some("alice@example.com")));
        assert!(matches!(Tokens::new("s2").verify(&token), Err(AuthError::Invalid(_))));
        assert_eq!(tokens.verify_header(None), Err(AuthError::Missing));
        assert_eq!(tokens.verify_header(Some("Basic x")), Err(AuthError::Malformed));
    }

    #[test]
    fn a_jwks_without_a_signing_key_of_an_accepted_kind_is_refused() {
        assert!(Jwks::parse(r#"{"keys": []}"#).is_err());
        // A symmetric key in a public key set would let anyone who reads the set sign.
        assert!(Jwks::parse(r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}"#).is_err());
        assert!(Jwks::parse("not json").is_err());
        assert_eq!(
            JwksSource::parse("https://id.example.com/jwks"),
            JwksSource::Url("https://id.example.com/jwks".into())
        );
        assert_eq!(JwksSource::parse("/etc/oxbow/jwks.json"), JwksSource::File("/etc/oxbow/jwks.json".into()));
    }

    #[test]
    fn two_issuers_subjects_are_two_people_and_only_the_first_grants_platform_roles() {
        let issuers = ["https://id.example.com".to_owned(), "https://eu.id.example.com".to_owned()];
        let tokens = Tokens::expecting("a-test-secret-of-at-least-32-bytes", &issuers, Some("oxbow"));
        let token_of = |issuer: &str| {
            let now = Utc::now().timestamp();
            tokens.sign(&Claims {
                sub: "alice".into(),
                email: None,
                email_verified: None,
                iat: now,
                exp: now + 60,
                oxbow_roles: vec!["operator".into()],
                iss: Some(issuer.into()),
                aud: Some("oxbow".into()),
            })
        };
        let own = tokens.verify(&token_of("https://id.example.com")).unwrap();
        assert_eq!((own.sub.as_str(), own.oxbow_roles.len()), ("https://id.example.com#alice", 1));
        let other = tokens.verify(&token_of("https://eu.id.example.com")).unwrap();
        assert_eq!(other.sub, "https://eu.id.example.com#alice");
        assert!(!Operators::default().includes(&other), "{other:?}");
        assert!(tokens.verify(&token_of("https://evil.example.com")).is_err());
        // With one issuer, a subject is the user id as it always was.
        let one = Tokens::expecting("a-test-secret-of-at-least-32-bytes", &issuers[..1], Some("oxbow"));
        assert_eq!(one.verify(&token_of("https://id.example.com")).unwrap().sub, "alice");
    }

    #[test]
    fn an_expired_token_is_refused() {
        let tokens = Tokens::new("s1");
        let token = tokens.mint("alice", None, chrono::Duration::hours(-1));
        assert!(matches!(tokens.verify(&token), Err(AuthError::Invalid(_))));
    }
}
