//! Throttles for sign-in and sign-up, as sliding windows of events per key, kept in memory (a
//! restart forgets, which is acceptable for slowing down guessing on one server; idle keys are
//! pruned, so made-up addresses cannot grow the map without bound).
//!
//! Sign-in failures are counted per (account, address): after `max_failures` that account is
//! refused *from that address* until the window moves on. An address failing across many
//! accounts is only slowed down (each attempt waits a little longer), never refused: a correct
//! password for an account that address did not attack always works (OWASP ASVS 2.2.1), so
//! nobody can lock another person out. Sign-ups are counted per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before idle ones are pruned.
const PRUNE_ABOVE: usize = 10_000;
/// The longest an attempt from a noisy address is made to wait.
const MAX_SLOW_DOWN: Duration = Duration::from_secs(3);

/// Events per key within a sliding window.
pub struct Window {
    max: u32,
    window: Duration,
    events: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Window {
    pub fn new(max: u32, window: Duration) -> Self {
        Window { max, window, events: Mutex::new(HashMap::new()) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Vec<Instant>>) -> T) -> T {
        f(&mut self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Events of `key` still in the window.
    pub fn count(&self, key: &str) -> usize {
        let now = Instant::now();
        self.with(|events| {
            events.get_mut(key).map_or(0, |times| {
                times.retain(|at| now.duration_since(*at) < self.window);
                times.len()
            })
        })
    }

    /// `Some(wait)` when `key` has used up its events.
    pub fn wait(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        self.with(|events| {
            let times = events.get_mut(key)?;
            times.retain(|at| now.duration_since(*at) < self.window);
            let first = times.first()?;
            (times.len() >= self.max as usize).then(|| self.window.saturating_sub(now.duration_since(*first)))
        })
    }

    pub fn record(&self, key: &str) {
        let now = Instant::now();
        self.with(|events| {
            if events.len() >= PRUNE_ABOVE {
                events.retain(|_, times| times.last().is_some_and(|last| now.duration_since(*last) < self.window));
            }
            events.entry(key.to_owned()).or_default().push(now);
        });
    }

    pub fn clear(&self, key: &str) {
        self.with(|events| events.remove(key));
    }

    pub fn keys(&self) -> usize {
        self.with(|events| events.len())
    }
}

/// What a sign-in attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on, after waiting this long (zero unless the address is noisy).
    Go(Duration),
    /// Refused for this account from this address for this long.
    Wait(Duration),
}

pub struct LoginThrottle {
    per_account: Window,
    per_address: Window,
    address_limit: u32,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        let address_limit = max_failures.saturating_mul(4);
        LoginThrottle {
            per_account: Window::new(max_failures, window),
            per_address: Window::new(u32::MAX, window),
            address_limit,
        }
    }

    fn keys(email: &str, ip: Option<IpAddr>) -> (String, String) {
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        (format!("{email}|{ip}"), ip)
    }

    pub fn check(&self, email: &str, ip: Option<IpAddr>) -> Verdict {
        let (account, address) = Self::keys(email, ip);
        if let Some(wait) = self.per_account.wait(&account) {
            return Verdict::Wait(wait);
        }
        let over = self.per_address.count(&address).saturating_sub(self.address_limit as usize);
        let slow_down = Duration::from_millis(250).saturating_mul(u32::try_from(over).unwrap_or(u32::MAX));
        Verdict::Go(slow_down.min(MAX_SLOW_DOWN))
    }

    pub fn record_failure(&self, email: &str, ip: Option<IpAddr>) {
        let (account, address) = Self::keys(email, ip);
        self.per_account.record(&account);
        self.per_address.record(&address);
    }

    /// A successful sign-in clears the account's count from that address.
    pub fn record_success(&self, email: &str, ip: Option<IpAddr>) {
        self.per_account.clear(&Self::keys(email, ip).0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_refused_from_the_address_that_attacked_it_and_says_how_long() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..3 {
            assert_eq!(throttle.check("a@x.io", ip), Verdict::Go(Duration::ZERO));
            throttle.record_failure("a@x.io", ip);
        }
        let Verdict::Wait(wait) = throttle.check("a@x.io", ip) else { panic!("refused") };
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50), "{wait:?}");
        assert_eq!(throttle.check("a@x.io", Some(IpAddr::from([10, 0, 0, 1]))), Verdict::Go(Duration::ZERO));
        assert_eq!(
            throttle.check("b@x.io", ip),
            Verdict::Go(Duration::ZERO),
            "another account from the same address may try"
        );
    }

    #[test]
    fn a_noisy_address_is_slowed_down_never_refused_for_other_accounts() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        for n in 0..30 {
            throttle.record_failure(&format!("victim{n}@x.io"), ip);
        }
        let Verdict::Go(wait) = throttle.check("other@x.io", ip) else { panic!("never refused") };
        assert_eq!(wait, MAX_SLOW_DOWN, "30 failures, 8 allowed: slowed down as much as it gets");
    }

    #[test]
    fn success_resets_the_account_and_idle_keys_are_pruned() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        throttle.record_failure("a@x.io", None);
        throttle.record_success("a@x.io", None);
        throttle.record_failure("a@x.io", None);
        assert_eq!(throttle.check("a@x.io", None), Verdict::Go(Duration::ZERO));
        let window = Window::new(1, Duration::from_millis(1));
        for n in 0..PRUNE_ABOVE + 10 {
            if n == PRUNE_ABOVE {
                std::thread::sleep(Duration::from_millis(5));
            }
            window.record(&format!("made-up-{n}"));
        }
        assert!(window.keys() < 20, "idle keys went: {}", window.keys());
    }
}
