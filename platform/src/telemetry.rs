//! Logs and traces. Logs go to stderr (`OXBOW_LOG` filters them, `OXBOW_LOG_FORMAT=json` for
//! log shippers). Traces go to an OpenTelemetry collector over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names one, and
//! nowhere otherwise; the exporter reads the other standard `OTEL_*` variables itself
//! (`OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf` or `http/json`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY`, …).
//!
//! A trace follows a command across processes in W3C Trace Context form (`traceparent`): in
//! the HTTP request's header, in `event_trace_context` between the append and the relay and
//! projector (see `store::traces` for why not in the events), in the `ce_traceparent` header of
//! the event's Kafka message, and in the saga work an event asks for.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithHttpConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The Kafka header of the CloudEvents Distributed Tracing extension.
pub const KAFKA_HEADER: &str = "ce_traceparent";

/// Whether this process exports traces: without, nobody reads the trace context.
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Keeps the trace exporter running; [`Telemetry::shut_down`] sends what it holds.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still held. Call it outside the async runtime: the exporter blocks.
    pub fn shut_down(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: the last spans could not be exported: {error}");
        }
    }
}

/// Whether the environment asks for traces.
fn tracing_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|value| !value.is_empty()))
        && !std::env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value == "true")
}

/// What a process logs unless `OXBOW_LOG` says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// A serving process: what it does, and the libraries' warnings.
    Serving,
    /// A command of the CLI, whose output is its answer: warnings of its own, and only the
    /// libraries' errors (sqlx's slow-statement warnings are not news on a rebuild).
    Command,
}

/// Installs the process's log and trace subscriber. `roles` describe the process in its
/// spans' resource (`oxbow.roles`). Call it before the async runtime starts.
pub fn init(roles: &str, verbosity: Verbosity) -> Telemetry {
    let default_filter = match verbosity {
        Verbosity::Serving => "info,sqlx=warn",
        Verbosity::Command => "warn,sqlx=error,redis=error",
    };
    let log_filter = || EnvFilter::try_from_env("OXBOW_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let provider = if tracing_configured() {
        match provider(roles) {
            Ok(provider) => Some(provider),
            Err(error) => {
                eprintln!("warning: traces are off: {error:#}");
                None
            }
        }
    } else {
        None
    };
    match &provider {
        None => {
            let _ = tracing_subscriber::registry().with(log_filter()).with(logs()).try_init();
        }
        Some(provider) => {
            ENABLED.store(true, std::sync::atomic::Ordering::Relaxed);
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            // The trace filter decides what is recorded at all, and the exporter takes all of
            // it: a per-layer filter in front of the exporter can lose a span to filter state
            // another callsite left on the thread. Logs are filtered on their own, so quiet logs
            // (`OXBOW_LOG=warn`) keep every span.
            let recorded = EnvFilter::try_from_env("OXBOW_TRACE_FILTER")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,h2=warn,reqwest=warn"));
            let traces = tracing_opentelemetry::layer().with_tracer(provider.tracer("oxbow"));
            let _ = tracing_subscriber::registry()
                .with(recorded)
                .with(traces)
                .with(logs().with_filter(log_filter()))
                .try_init();
        }
    }
    Telemetry { provider }
}

/// Log lines on stderr: text, or JSON with `OXBOW_LOG_FORMAT=json`. Colour only on a terminal.
fn logs<S>() -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if std::env::var("OXBOW_LOG_FORMAT").is_ok_and(|format| format == "json") {
        tracing_subscriber::fmt::layer()
            .event_format(crate::json_logs::JsonLines { ids: current_ids })
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        tracing_subscriber::fmt::layer().with_ansi(terminal).with_writer(std::io::stderr).boxed()
    }
}

fn provider(roles: &str) -> anyhow::Result<SdkTracerProvider> {
    // The exporter's own client, blocking (it runs on the batch processor's thread), trusting
    // the deployment's CA as every other client does.
    let mut client = reqwest::blocking::Client::builder();
    if let Ok(file) = std::env::var("OXBOW_TLS_CA_FILE")
        && !file.is_empty()
    {
        let pem = std::fs::read(&file).map_err(|error| anyhow::anyhow!("reading OXBOW_TLS_CA_FILE {file}: {error}"))?;
        client = client.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem)?);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().with_http_client(client.build()?).build()?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "oxbow".to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(opentelemetry::KeyValue::new("oxbow.roles", roles.to_owned()))
        .with_attribute(opentelemetry::KeyValue::new("process.pid", i64::from(std::process::id())))
        .build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// The `traceparent` of `span`, when it is part of a sampled trace.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_sampled() {
        return None;
    }
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// The PostgreSQL server and database the log is on, as database spans name them.
#[derive(Debug, Clone, Default)]
pub struct Database {
    pub host: String,
    pub port: u16,
    pub name: String,
}

static DATABASE: std::sync::OnceLock<Database> = std::sync::OnceLock::new();

/// Tells database spans where the log is, from `DATABASE_URL` (never its credentials).
pub fn set_database(url: &str) {
    let Ok(url) = reqwest::Url::parse(url) else { return };
    let _ = DATABASE.set(Database {
        host: url.host_str().unwrap_or("localhost").to_owned(),
        port: url.port().unwrap_or(5432),
        name: url.path().trim_start_matches('/').to_owned(),
    });
}

/// Where the log is, as [`set_database`] was told; empty until it is.
pub fn database() -> &'static Database {
    static UNKNOWN: Database = Database { host: String::new(), port: 0, name: String::new() };
    DATABASE.get().unwrap_or(&UNKNOWN)
}

/// The trace and span ids of the current span, in their hex form, when it is part of a trace.
pub fn current_ids() -> Option<(String, String)> {
    if !enabled() {
        return None;
    }
    let context = tracing::Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| (span_context.trace_id().to_string(), span_context.span_id().to_string()))
}

/// Records the trace id of `span` in its `trace_id` field (declared empty by the span), so the
/// log lines inside it name the trace they belong to.
pub fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", span_context.trace_id().to_string());
    }
}

/// Makes `span` a child of the span a caller's `traceparent` names, keeping its trace id but not
/// its sampled flag: whether the trace is recorded stays this deployment's decision
/// (`OTEL_TRACES_SAMPLER`), taken as for a trace of its own, so a caller cannot make every
/// request of theirs traced. A missing or malformed `traceparent` leaves `span` where it is.
pub fn continue_callers_trace(span: &tracing::Span, traceparent: Option<&str>) {
    use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags};
    use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
    let Some(traceparent) = traceparent else { return };
    let carrier = std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let callers = context.span().span_context().clone();
    if !callers.is_valid() {
        return;
    }
    let sampler = ROOT_SAMPLER.get_or_init(root_sampler);
    let decision = sampler.should_sample(None, callers.trace_id(), "", &SpanKind::Server, &[], &[]).decision;
    let flags = match decision {
        SamplingDecision::RecordAndSample => TraceFlags::SAMPLED,
        _ => TraceFlags::default(),
    };
    let parent = SpanContext::new(callers.trace_id(), callers.span_id(), flags, true, callers.trace_state().clone());
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
}

/// What this deployment's sampler decides for a trace that starts here.
static ROOT_SAMPLER: std::sync::OnceLock<opentelemetry_sdk::trace::Sampler> = std::sync::OnceLock::new();

/// The root of the sampler `OTEL_TRACES_SAMPLER` configures (the SDK reads the same variables):
/// `parentbased_X` decides a new trace as `X` does; unknown samplers fall back to always on, as
/// the SDK's do.
fn root_sampler() -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler;
    let name = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
    let ratio = || std::env::var("OTEL_TRACES_SAMPLER_ARG").ok().and_then(|arg| arg.parse::<f64>().ok()).unwrap_or(1.0);
    match name.trim_start_matches("parentbased_") {
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()),
        _ => Sampler::AlwaysOn,
    }
}

/// Makes `span` a child of the span `traceparent` names (from another of this deployment's
/// processes, whose sampling decision it keeps). A missing or malformed one leaves `span`
/// where it is.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else { return };
    let carrier = std::collections::HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_trace_without_a_sampled_span() {
        assert_eq!(traceparent_of(&tracing::Span::current()), None);
        // A malformed parent is ignored rather than failing the work it came with.
        continue_trace(&tracing::Span::current(), Some("not-a-traceparent"));
    }
}
