//! Login throttling: failed sign-ins are counted per account and per (account, address) and
//! per address, in a sliding window. Kept in memory: a restart forgets, which is acceptable for
//! slowing down guessing on one server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    fn keys(email: &str, ip: Option<IpAddr>) -> [String; 2] {
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        // Per account from one address, and per address across accounts (a wider budget).
        [format!("account:{email}|{ip}"), format!("ip:{ip}")]
    }

    /// `Some(wait)` when this account or address must wait before trying again.
    pub fn check(&self, email: &str, ip: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let [account, address] = Self::keys(email, ip);
        let limits = [(account, self.max_failures), (address, self.max_failures * 4)];
        limits
            .into_iter()
            .filter_map(|(key, limit)| {
                let times = failures.get_mut(&key)?;
                times.retain(|at| now.duration_since(*at) < self.window);
                (times.len() >= limit as usize)
                    .then(|| times.first().map(|first| self.window - now.duration_since(*first)))
            })
            .flatten()
            .max()
    }

    pub fn record_failure(&self, email: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in Self::keys(email, ip) {
            failures.entry(key).or_default().push(now);
        }
    }

    /// A successful sign-in clears the account's count from that address.
    pub fn record_success(&self, email: &str, ip: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let [account, _] = Self::keys(email, ip);
        failures.remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_says_how_long() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..3 {
            assert_eq!(throttle.check("a@x.io", ip), None);
            throttle.record_failure("a@x.io", ip);
        }
        let wait = throttle.check("a@x.io", ip);
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(60) && w > Duration::from_secs(50)), "{wait:?}");
        assert_eq!(throttle.check("b@x.io", ip), None, "another account from the same address still may try");
    }

    #[test]
    fn success_resets_the_account() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        throttle.record_failure("a@x.io", None);
        throttle.record_success("a@x.io", None);
        throttle.record_failure("a@x.io", None);
        assert_eq!(throttle.check("a@x.io", None), None);
    }
}
