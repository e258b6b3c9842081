//! A small Prometheus registry: counters, gauges and histograms with labels, rendered as text.
//! Label values come from closed sets (command types, roles, outcomes), never from clients.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Buckets for latencies, in seconds: 1 ms to 10 s.
pub const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

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
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
