//! A small Prometheus registry: counters, gauges and histograms with labels, rendered as text.
//! Label values come from closed sets (command types, roles, outcomes), never from clients.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Buckets for latencies, in seconds: 1 ms to 10 s.
pub const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Buckets for sizes in bytes: 64 B to 1 MiB.
pub const BYTES: &[f64] = &[64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262_144.0, 1_048_576.0];

/// Buckets for sizes counted in items (events in a batch): 1 to 1024.
pub const COUNTS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One series' value: a number, or a histogram's buckets (counts per upper bound, not yet
/// cumulative), sum and count.
enum Value {
    Number(f64),
    Histogram { bounds: &'static [f64], counts: Vec<u64>, sum: f64, count: u64 },
}

struct Family {
    kind: Kind,
    help: &'static str,
    series: BTreeMap<String, Value>,
}

/// Shared by every role of a process; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    families: Arc<Mutex<BTreeMap<&'static str, Family>>>,
}

fn label_key(labels: &[(&str, &str)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(",")
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn update(
        &self,
        kind: Kind,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        new: impl FnOnce() -> Value,
        f: impl FnOnce(&mut Value),
    ) {
        let key = label_key(labels);
        let mut families = self.families.lock().expect("metrics lock");
        let family = families.entry(name).or_insert_with(|| Family { kind, help, series: BTreeMap::new() });
        f(family.series.entry(key).or_insert_with(new));
    }

    pub fn increment(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], by: u64) {
        self.update(
            Kind::Counter,
            name,
            help,
            labels,
            || Value::Number(0.0),
            |value| {
                if let Value::Number(value) = value {
                    *value += by as f64;
                }
            },
        );
    }

    pub fn set(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], to: f64) {
        self.update(Kind::Gauge, name, help, labels, || Value::Number(0.0), |value| *value = Value::Number(to));
    }

    /// Counts `value` into the histogram `name` with upper bounds `bounds` (ascending).
    pub fn observe(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        bounds: &'static [f64],
        value: f64,
    ) {
        let new = || Value::Histogram { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 };
        self.update(Kind::Histogram, name, help, labels, new, |series| {
            if let Value::Histogram { bounds, counts, sum, count } = series {
                // A value above every bound counts only in `+Inf`, which is the count.
                if let Some(bucket) = bounds.iter().position(|bound| value <= *bound) {
                    counts[bucket] += 1;
                }
                *sum += value;
                *count += 1;
            }
        });
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let families = self.families.lock().expect("metrics lock");
        let mut out = String::new();
        for (name, family) in families.iter() {
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            out.push_str(&format!("# HELP {name} {}\n# TYPE {name} {kind}\n", family.help));
            for (labels, value) in &family.series {
                let with = |extra: &str| match (labels.is_empty(), extra.is_empty()) {
                    (true, true) => String::new(),
                    (true, false) => format!("{{{extra}}}"),
                    (false, true) => format!("{{{labels}}}"),
                    (false, false) => format!("{{{labels},{extra}}}"),
                };
                match value {
                    Value::Number(value) => out.push_str(&format!("{name}{} {value}\n", with(""))),
                    Value::Histogram { bounds, counts, sum, count } => {
                        let mut cumulative = 0;
                        for (bound, bucket) in bounds.iter().zip(counts) {
                            cumulative += bucket;
                            out.push_str(&format!("{name}_bucket{} {cumulative}\n", with(&format!("le=\"{bound}\""))));
                        }
                        out.push_str(&format!("{name}_bucket{} {count}\n", with("le=\"+Inf\"")));
                        out.push_str(&format!("{name}_sum{} {sum}\n{name}_count{} {count}\n", with(""), with("")));
                    }
                }
            }
        }
        out.push_str(&process_metrics());
        out
    }
}

/// The standard `process_*` metrics of this process, read from `/proc` at each scrape (empty
/// where there is no `/proc`). Clock ticks are taken as 100 per second, Linux's USER_HZ.
fn process_metrics() -> String {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return String::new() };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kilobytes = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb * 1024.0)
    };
    let threads =
        status.lines().find_map(|line| line.strip_prefix("Threads:")?.trim().parse::<f64>().ok()).unwrap_or(0.0);
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count()) as f64;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits.lines().find(|line| line.starts_with("Max open files"))?.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(0.0);
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| stat.lines().find_map(|line| line.strip_prefix("btime ")?.trim().parse::<f64>().ok()))
        .unwrap_or(0.0);
    let ticks = 100.0;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
    };
    metric(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time spent, in seconds.",
        (field(14) + field(15)) / ticks,
    );
    metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", kilobytes("VmRSS:"));
    metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", kilobytes("VmSize:"));
    metric("process_threads", "gauge", "Operating system threads.", threads);
    metric("process_open_fds", "gauge", "Open file descriptors.", open_fds);
    metric("process_max_fds", "gauge", "The most file descriptors the process may open.", max_fds);
    metric(
        "process_start_time_seconds",
        "gauge",
        "When the process started, in seconds since the Unix epoch.",
        boot + field(22) / ticks,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_metrics_describe_this_process() {
        let text = Metrics::new().render();
        let value = |name: &str| -> f64 {
            let line = text.lines().find(|line| line.starts_with(&format!("{name} "))).expect(name);
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1e6, "{text}");
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_threads") >= 1.0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(started <= now + 1.0 && started > now - 86_400.0 * 30.0, "{started} vs {now}");
    }

    #[test]
    fn it_renders_counters_and_gauges_with_labels() {
        let metrics = Metrics::new();
        metrics.increment("oxbow_commands_total", "Commands", &[("outcome", "ok")], 2);
        metrics.increment("oxbow_commands_total", "Commands", &[("outcome", "ok")], 1);
        metrics.set("oxbow_lag", "Lag", &[], 5.0);
        let text = metrics.render();
        assert!(
            text.contains("# TYPE oxbow_commands_total counter\noxbow_commands_total{outcome=\"ok\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("oxbow_lag 5\n"), "{text}");
    }

    #[test]
    fn a_histogram_renders_cumulative_buckets_sum_and_count() {
        let metrics = Metrics::new();
        for value in [0.002, 0.02, 0.02, 20.0] {
            metrics.observe("oxbow_x_seconds", "X", &[("type", "A")], SECONDS, value);
        }
        let text = metrics.render();
        assert!(text.contains("# TYPE oxbow_x_seconds histogram\n"), "{text}");
        assert!(text.contains("oxbow_x_seconds_bucket{type=\"A\",le=\"0.001\"} 0\n"), "{text}");
        assert!(text.contains("oxbow_x_seconds_bucket{type=\"A\",le=\"0.0025\"} 1\n"), "{text}");
        assert!(text.contains("oxbow_x_seconds_bucket{type=\"A\",le=\"0.025\"} 3\n"), "{text}");
        assert!(text.contains("oxbow_x_seconds_bucket{type=\"A\",le=\"10\"} 3\n"), "{text}");
        assert!(text.contains("oxbow_x_seconds_bucket{type=\"A\",le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("oxbow_x_seconds_sum{type=\"A\"} 20.042\n"), "{text}");
        assert!(text.contains("oxbow_x_seconds_count{type=\"A\"} 4\n"), "{text}");
    }
}
