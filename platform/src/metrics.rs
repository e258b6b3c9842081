//! A small Prometheus registry: counters and gauges with labels, rendered as text.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

struct Family {
    kind: Kind,
    help: &'static str,
    series: BTreeMap<String, f64>,
}

/// Shared by every role of a process; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    families: Arc<Mutex<BTreeMap<&'static str, Family>>>,
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
        f: impl FnOnce(&mut f64),
    ) {
        let key = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(",");
        let mut families = self.families.lock().expect("metrics lock");
        let family = families.entry(name).or_insert_with(|| Family { kind, help, series: BTreeMap::new() });
        f(family.series.entry(key).or_insert(0.0));
    }

    pub fn increment(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], by: u64) {
        self.update(Kind::Counter, name, help, labels, |value| *value += by as f64);
    }

    pub fn set(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], to: f64) {
        self.update(Kind::Gauge, name, help, labels, |value| *value = to);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let families = self.families.lock().expect("metrics lock");
        let mut out = String::new();
        for (name, family) in families.iter() {
            let kind = if family.kind == Kind::Counter { "counter" } else { "gauge" };
            out.push_str(&format!("# HELP {name} {}\n# TYPE {name} {kind}\n", family.help));
            for (labels, value) in &family.series {
                if labels.is_empty() {
                    out.push_str(&format!("{name} {value}\n"));
                } else {
                    out.push_str(&format!("{name}{{{labels}}} {value}\n"));
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
}
