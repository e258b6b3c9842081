//! A progress line for the long commands (verify, rebuild, diff).

/// A progress line on a terminal, with rate and time left; nothing when stderr is a file or
/// a pipe.
pub struct Progress {
    label: String,
    first: i64,
    last: i64,
    started: std::time::Instant,
    terminal: bool,
}

impl Progress {
    pub fn new(label: String, first: i64, last: i64) -> Progress {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Progress { label, first, last, started: std::time::Instant::now(), terminal }
    }

    pub fn extend_to(&mut self, last: i64) {
        self.last = self.last.max(last);
    }

    pub fn show(&self, position: i64) {
        if !self.terminal || self.last < self.first {
            return;
        }
        let done = position - self.first + 1;
        let total = self.last - self.first + 1;
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let eta = (total - done) as f64 / rate.max(1.0);
        eprint!(
            "\r{}: {done}/{total} events ({:.0}%), {rate:.0} events/s, {eta:.0} s left   ",
            self.label,
            100.0 * done as f64 / total as f64
        );
    }

    pub fn clear(&self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}
