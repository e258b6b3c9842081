//! Token buckets, one per caller: a steady rate with a burst allowance.
//!
//! A caller is who has been verified, when someone has: a token's identity, a worker
//! credential. Before that (no token, a bad one, a worker credential not yet looked up) the
//! caller is the peer's address, so that made-up identities cost the one who makes them up, and
//! cannot each have a bucket of their own.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Whose bucket a request takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// A verified identity.
    Identity(String),
    /// An address, for what is not verified. IPv6 peers are taken by their /64, which one
    /// subscriber holds whole.
    Peer(IpAddr),
}

impl Bucket {
    pub fn identity(identity: &str) -> Bucket {
        Bucket::Identity(identity.to_owned())
    }

    pub fn peer(address: IpAddr) -> Bucket {
        match address {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Bucket::Peer(IpAddr::V6(prefix.into()))
            }
            IpAddr::V6(v6) => Bucket::Peer(IpAddr::V4(v6.to_ipv4_mapped().expect("checked above"))),
            v4 => Bucket::Peer(v4),
        }
    }
}

/// A keyed limiter. Taking a token touches one shard of a concurrent map; buckets that are full
/// again are forgotten by [`RateLimit::forget_idle`], on a timer ([`RateLimit::spawn_forgetting`]).
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<Bucket>>,
}

/// How often buckets that are full again are forgotten.
pub const FORGET_EVERY: Duration = Duration::from_secs(60);

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        let per_second = NonZeroU32::new(per_second.max(1)).expect("at least one");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
        RateLimit {
            limiter: Arc::new(DefaultKeyedRateLimiter::dashmap(Quota::per_second(per_second).allow_burst(burst))),
        }
    }

    /// Takes one token from `bucket`; `Err` with the time until one is free.
    pub fn take(&self, bucket: &Bucket) -> Result<(), Duration> {
        self.limiter.check_key(bucket).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets the buckets that are full again: they are as good as new.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// The buckets held now.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }

    /// Forgets idle buckets every [`FORGET_EVERY`], for as long as the task runs.
    pub fn spawn_forgetting(&self) -> tokio::task::JoinHandle<()> {
        let limit = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FORGET_EVERY);
            loop {
                every.tick().await;
                limit.forget_idle();
            }
        })
    }
}

/// The address a request comes from, as the HTTP server found it ([`client_address`]): a
/// request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The address a request comes from: its peer's, or, when the peer is one of the deployment's
/// own proxies (`trusted`), the nearest address in `X-Forwarded-For` that is not. An entry that
/// is not an address ends the search at the last proxy that wrote one.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[ipnet::IpNet]) -> IpAddr {
    let trusts = |address: &IpAddr| trusted.iter().any(|network| network.contains(address));
    if !trusts(&peer) {
        return peer;
    }
    let mut nearest = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        let Ok(address) = hop.trim().parse::<IpAddr>() else { break };
        nearest = address;
        if !trusts(&address) {
            break;
        }
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_past_its_burst_is_held_back_and_others_are_not() {
        let limit = RateLimit::new(1, 3);
        let alice = Bucket::identity("alice");
        for _ in 0..3 {
            assert!(limit.take(&alice).is_ok());
        }
        let wait = limit.take(&alice).expect_err("past the burst");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limit.take(&Bucket::identity("bo")).is_ok());
        assert!(limit.take(&Bucket::peer("192.0.2.1".parse().unwrap())).is_ok());
    }

    #[test]
    fn an_ipv6_subscriber_has_one_bucket_for_its_whole_prefix() {
        let one = Bucket::peer("2001:db8:1:2::1".parse().unwrap());
        let other = Bucket::peer("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(one, other);
        assert_ne!(one, Bucket::peer("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(Bucket::peer("::ffff:192.0.2.1".parse().unwrap()), Bucket::peer("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn only_the_deployments_own_proxies_are_believed() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let at = |text: &str| text.parse::<IpAddr>().unwrap();
        // A client's own header is not believed.
        assert_eq!(client_address(at("198.51.100.7"), Some("1.2.3.4"), &trusted), at("198.51.100.7"));
        // Behind two proxies, the nearest address that is not one of them.
        let forwarded = Some("1.2.3.4, 198.51.100.7, 10.0.0.2");
        assert_eq!(client_address(at("10.0.0.1"), forwarded, &trusted), at("198.51.100.7"));
        // Garbage a client wrote ends the search at the last proxy's word.
        assert_eq!(client_address(at("10.0.0.1"), Some("nonsense, 10.0.0.3"), &trusted), at("10.0.0.3"));
        assert_eq!(client_address(at("10.0.0.1"), None, &trusted), at("10.0.0.1"));
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let limit = RateLimit::new(1_000_000, 1);
        for n in 0..100u8 {
            limit.take(&Bucket::peer(IpAddr::from([192, 0, 2, n]))).unwrap();
        }
        assert_eq!(limit.len(), 100);
        std::thread::sleep(Duration::from_millis(5));
        limit.forget_idle();
        assert_eq!(limit.len(), 0);
    }
}
