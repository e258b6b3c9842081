//! Bearer tokens: HS256 JWTs that name the caller in `sub`.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's email, used to match invitations once the identity provider says it is
    /// verified (`email_verified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    pub iat: i64,
    pub exp: i64,
    /// Platform roles: `operator` names the platform's own staff (see [`Operators`]).
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

/// Signs and checks tokens with one shared secret. Cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    keys: std::sync::Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// What minted tokens say in `iss` and `aud`, and what checked ones must say.
    issuer: Option<String>,
    audience: Option<String>,
}

impl Tokens {
    pub fn new(secret: &str) -> Tokens {
        Tokens::expecting(secret, None, None)
    }

    /// Tokens that must name `issuer` in `iss` and `audience` in `aud`, each when given (an
    /// identity provider's tokens for this deployment and no other).
    pub fn expecting(secret: &str, issuer: Option<&str>, audience: Option<&str>) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
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
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            issuer: issuer.map(str::to_owned),
            audience: audience.map(str::to_owned),
        };
        Tokens { keys: std::sync::Arc::new(keys) }
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
            iss: self.keys.issuer.clone(),
            aud: self.keys.audience.clone(),
        })
    }

    /// A token carrying exactly `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.keys.encoding)
            .expect("HS256 signing does not fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.keys.decoding, &self.keys.validation)
            .map_err(|error| AuthError::Invalid(error.to_string()))?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::Invalid("`sub` is empty".into()));
        }
        // Oxbow's own roles act as `system:…` (the sagas); no token may speak for them.
        if data.claims.sub.starts_with("system:") {
            return Err(AuthError::Invalid("subjects under `system:` are Oxbow's own".into()));
        }
        Ok(data.claims)
    }

    /// Checks an `Authorization` header value (`Bearer <jwt>`).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Claims, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token =
            header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).ok_or(AuthError::Malformed)?;
        self.verify(token.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_expired_token_is_refused() {
        let tokens = Tokens::new("s1");
        let token = tokens.mint("alice", None, chrono::Duration::hours(-1));
        assert!(matches!(tokens.verify(&token), Err(AuthError::Invalid(_))));
    }
}
