//! TLS for every client Oxbow opens: rustls (with the ring provider) for PostgreSQL, Redis and
//! HTTP, trusting the platform's root certificates and, when `OXBOW_TLS_CA_FILE` names one,
//! a deployment's own CA as well. Kafka uses librdkafka's own TLS, configured with
//! `OXBOW_KAFKA_SECURITY_PROTOCOL` and `OXBOW_KAFKA_SSL_CA_LOCATION`.

use std::sync::OnceLock;

use anyhow::Context;

/// The deployment's CA certificates (PEM), trusted besides the platform's.
static EXTRA_ROOTS: OnceLock<Vec<u8>> = OnceLock::new();

/// Makes rustls use ring, once per process: every TLS client after this one finds it.
pub fn install() {
    // Already installed (by an earlier call): nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Trusts the CA certificates in `file` (PEM) besides the platform's, for the rest of the
/// process. The first call decides.
pub fn trust(file: Option<&str>) -> anyhow::Result<()> {
    install();
    let Some(file) = file else { return Ok(()) };
    let pem = std::fs::read(file).with_context(|| format!("reading OXBOW_TLS_CA_FILE {file}"))?;
    reqwest::Certificate::from_pem_bundle(&pem).with_context(|| format!("{file} holds no PEM certificate"))?;
    let _ = EXTRA_ROOTS.set(pem);
    Ok(())
}

/// An HTTP client builder that trusts what [`trust`] was given, besides the platform's roots.
pub fn http_client() -> reqwest::ClientBuilder {
    install();
    let builder = reqwest::Client::builder();
    match EXTRA_ROOTS.get().and_then(|pem| reqwest::Certificate::from_pem_bundle(pem).ok()) {
        Some(certificates) => builder.tls_certs_merge(certificates),
        None => builder,
    }
}

/// A Redis client for `url`; a `rediss://` one also trusts what [`trust`] was given.
pub fn redis_client(url: &str) -> anyhow::Result<redis::Client> {
    install();
    let client = match (url.starts_with("rediss://"), EXTRA_ROOTS.get()) {
        (true, Some(pem)) => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) },
        ),
        _ => redis::Client::open(url),
    };
    client.with_context(|| format!("REDIS_URL {url:?} is not valid"))
}
