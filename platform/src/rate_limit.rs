//! A token bucket per caller: a steady rate with a burst allowance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit { per_second: per_second as f64, burst: burst.max(1) as f64, buckets: Default::default() }
    }

    /// Takes one token for `caller`; `Err` with the seconds until one is free.
    pub fn take(&self, caller: &str) -> Result<(), f64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limit lock");
        if buckets.len() > 100_000 {
            // Forget idle callers rather than grow without bound.
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let (tokens, at) = buckets.entry(caller.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.per_second.max(f64::MIN_POSITIVE))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_past_its_burst_is_held_back_and_others_are_not() {
        let limit = RateLimit::new(1, 3);
        for _ in 0..3 {
            assert!(limit.take("alice").is_ok());
        }
        assert!(limit.take("alice").is_err());
        assert!(limit.take("bo").is_ok());
    }
}
