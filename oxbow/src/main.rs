//! `oxbow`: serve the roles, migrate, mint development tokens, and audit the log.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use oxbow::Role;
use platform::Config;

// The command path allocates many small, short-lived buffers; mimalloc serves them far
// cheaper than glibc's malloc under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long `serve` lets the requests in flight finish after SIGTERM or Ctrl-C.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Parser)]
#[command(name = "oxbow", version, about = "Event-sourced CQRS backend for multi-tenant AI-agent platforms")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every role in this process, or only those named.
    Serve {
        /// write-api, read-api, projector, saga, relay (comma-separated or repeated); all by default.
        #[arg(long = "role", value_delimiter = ',')]
        roles: Vec<Role>,
        /// A development machine: without OXBOW_JWT_SECRET, sign and check tokens with the
        /// public development secret (anyone can mint tokens for it). Never in production.
        #[arg(long)]
        dev: bool,
    },
    /// Asks a URL (a role's /readyz) and exits 0 if it answers 2xx: a container's health check,
    /// where the image has no curl.
    Probe { url: String },
    /// Applies the database migrations.
    Migrate,
    /// Mints a bearer token signed with OXBOW_JWT_SECRET, for development and tests.
    Token {
        /// The user id the token names.
        #[arg(long)]
        sub: String,
        /// The user's email, matched against invitations.
        #[arg(long)]
        email: Option<String>,
        /// Hours until the token expires.
        #[arg(long, default_value_t = 24)]
        ttl_hours: i64,
        /// A token of the platform's staff (`oxbow_roles: ["operator"]`): grants, overdrafts,
        /// payments and suspensions in every workspace.
        #[arg(long)]
        operator: bool,
    },
    /// Audits the event log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Works with the Kafka topics.
    Kafka {
        #[command(subcommand)]
        command: KafkaCommand,
    },
    /// Inspects the read models.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
}

#[derive(Subcommand)]
enum KafkaCommand {
    /// Publishes positions `from..=to` of the log to the events topic again, in order. Consumers
    /// drop what they have applied, so this is safe; it refills a topic whose retention ran out.
    Republish {
        #[arg(long)]
        from: i64,
        /// The last position (default: the log's head).
        #[arg(long)]
        to: Option<i64>,
    },
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Each projection's position, lag behind the log's head, state and last error, its parked
    /// events, and the sagas' waiting work.
    Status {
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Applies the stream of a parked event again, in order, after a fix; the stream flows on
    /// if it applies, and stays parked with the new error if not.
    Retry {
        /// The parked event's position (see `oxbow projections status`).
        position: i64,
        /// Whose dead letter: `catalog` (the projection), `relay`, or `sagas` (then POSITION
        /// is the id of set-aside saga work).
        #[arg(long, default_value = "catalog")]
        consumer: String,
        /// How long to wait for the projector's answer, in seconds.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Gives up a parked event that failed: the projection never applies it, the decision is
    /// recorded in the log (`ParkedEventSkipped`), and its stream's later events flow on.
    Skip {
        /// The failed event's position (see `oxbow projections status`).
        position: i64,
        /// Whose dead letter: `catalog` (the projection) or `relay`.
        #[arg(long, default_value = "catalog")]
        consumer: String,
        /// Why, for the audit trail.
        #[arg(long)]
        reason: String,
        /// Who decides; recorded as the event's actor `operator:<by>` (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// How long to wait for the projector to apply what waited, in seconds.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Rebuilds a projection from the log into fresh tables while the live one keeps serving,
    /// then switches over atomically. A stopped rebuild resumes where it left off.
    Rebuild {
        #[command(flatten)]
        which: WhichProjections,
        /// Start over instead of resuming a stopped rebuild.
        #[arg(long)]
        fresh: bool,
    },
    /// Rebuilds a projection from the log and compares it with the live one; exits 1 when they
    /// differ.
    Diff {
        #[command(flatten)]
        which: WhichProjections,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct WhichProjections {
    /// The projection (see `oxbow projections status`).
    name: Option<String>,
    /// Every projection.
    #[arg(long)]
    all: bool,
}

impl WhichProjections {
    fn names(&self) -> anyhow::Result<Vec<&'static str>> {
        const KNOWN: [&str; 1] = [projections::catalog::NAME];
        match &self.name {
            None => Ok(KNOWN.to_vec()),
            Some(name) => match KNOWN.iter().find(|known| *known == name) {
                Some(known) => Ok(vec![known]),
                None => anyhow::bail!("there is no projection named {name:?} (known: {})", KNOWN.join(", ")),
            },
        }
    }
}

#[derive(Subcommand)]
enum LogCommand {
    /// Checks the hash chain and that positions are gap-free; names the first bad position.
    Verify(VerifyArgs),
    /// Writes a stream's or a workspace's audit trail to stdout, in log order.
    Export(ExportArgs),
    /// Prints an aggregate's state at a point in its history, as JSON.
    State(StateArgs),
    /// Crypto-shreds a person's personal data: destroys their keys, so it reads as erased
    /// everywhere, rebuilt projections too. The log is untouched and still verifies.
    Forget {
        /// The person: an email, or a user id (the emails of the invitations they accepted).
        #[arg(long)]
        subject: String,
    },
}

#[derive(Args)]
struct StateArgs {
    /// The aggregate's stream, e.g. billing-0193c0de-0000-7000-8000-000000000001.
    #[arg(long)]
    stream: String,
    /// The state after the last event recorded at or before this time (RFC 3339).
    #[arg(long, conflicts_with = "position", required_unless_present = "position")]
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// The state after the last event at or below this global position.
    #[arg(long)]
    position: Option<i64>,
}

#[derive(Args)]
struct ExportArgs {
    /// A stream, e.g. workspace-0193c0de-0000-7000-8000-000000000001.
    #[arg(long, conflicts_with = "workspace", required_unless_present = "workspace")]
    stream: Option<String>,
    /// Every event of a workspace (a UUID).
    #[arg(long)]
    workspace: Option<uuid::Uuid>,
    /// Only events recorded at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events recorded before this time (RFC 3339).
    #[arg(long)]
    to: Option<chrono::DateTime<chrono::Utc>>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Args)]
struct VerifyArgs {
    /// The first position to check (default: 1).
    #[arg(long)]
    from: Option<i64>,
    /// The last position to check (default: the log's head).
    #[arg(long)]
    to: Option<i64>,
}

impl Command {
    /// What this process is, for its spans: the roles it serves, or `cli`.
    fn roles(&self) -> String {
        match self {
            Command::Serve { roles, .. } if !roles.is_empty() => {
                roles.iter().map(|role| role.name()).collect::<Vec<_>>().join(",")
            }
            Command::Serve { .. } => "all".to_owned(),
            _ => "cli".to_owned(),
        }
    }
}

fn main() -> ExitCode {
    // Every TLS client (PostgreSQL, Redis, HTTP) uses rustls with ring.
    platform::tls::install();
    // `oxbow serve --help` lists every variable of the configuration.
    let command = Cli::command().mut_subcommand("serve", |serve| serve.after_help(platform::variables::help()));
    let cli = match command.try_get_matches().and_then(|matches| Cli::from_arg_matches(&matches)) {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // One line, not clap's usage block.
            let message = error.render().to_string();
            let mut lines = message.lines().map(str::trim).filter(|line| !line.is_empty());
            let mut first = lines.next().unwrap_or("error: invalid arguments").to_owned();
            // "…were not provided:" names them on the next line.
            if first.ends_with(':')
                && let Some(next) = lines.next()
            {
                first = format!("{first} {next}");
            }
            eprintln!("{first} (see oxbow --help)");
            return ExitCode::from(2);
        }
    };
    let telemetry = platform::telemetry::init(&cli.command.roles());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    };
    drop(runtime);
    telemetry.shut_down();
    code
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { roles, dev } => {
            let mut config = Config::from_env()?;
            config.development = dev;
            let roles = if roles.is_empty() { Role::ALL.to_vec() } else { roles };
            let mut server = oxbow::serve::start(config, &roles).await?;
            if let Some(addr) = server.http_addr {
                tracing::info!("serving on http://{addr} (GraphiQL at /graphql)");
            }
            tokio::select! {
                _ = server.wait() => {}
                _ = shutdown_signal() => {
                    tracing::info!("shutting down: finishing the requests in flight");
                    server.shut_down(SHUTDOWN_GRACE).await;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe { url } => {
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
            let response = client.get(&url).send().await.with_context(|| format!("asking {url}"))?;
            anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let config = Config::from_env()?;
            let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
            oxbow::migrate_for(&pool, config.serving_role.as_deref()).await?;
            match &config.serving_role {
                Some(role) => println!("migrated; {role} may serve"),
                None => println!("migrated"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { sub, email, ttl_hours, operator } => {
            if sub.trim().is_empty() {
                anyhow::bail!("--sub must not be empty");
            }
            if ttl_hours <= 0 {
                anyhow::bail!("--ttl-hours must be positive");
            }
            let secret = match std::env::var("OXBOW_JWT_SECRET").ok().filter(|s| !s.is_empty()) {
                Some(secret) => secret,
                None => {
                    eprintln!("note: OXBOW_JWT_SECRET is not set; signing with the public development secret");
                    platform::config::DEVELOPMENT_JWT_SECRET.to_owned()
                }
            };
            let env = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
            let (issuer, audience) = (env("OXBOW_JWT_ISSUER"), env("OXBOW_JWT_AUDIENCE"));
            let tokens = platform::auth::Tokens::expecting(&secret, issuer.as_deref(), audience.as_deref());
            let roles: &[&str] = if operator { &["operator"] } else { &[] };
            println!("{}", tokens.mint_with_roles(&sub, email.as_deref(), roles, chrono::Duration::hours(ttl_hours)));
            Ok(ExitCode::SUCCESS)
        }
        Command::Log { command: LogCommand::Verify(args) } => verify(args).await,
        Command::Log { command: LogCommand::Export(args) } => export(args).await,
        Command::Log { command: LogCommand::State(args) } => log_state(args).await,
        Command::Log { command: LogCommand::Forget { subject } } => forget(subject.trim()).await,
        Command::Projections { command: ProjectionsCommand::Status { json } } => projections_status(json).await,
        Command::Projections { command: ProjectionsCommand::Retry { position, consumer, wait } } => {
            retry_parked(&consumer, position, wait).await
        }
        Command::Projections { command: ProjectionsCommand::Skip { position, consumer, reason, by, wait } } => {
            skip_parked(&consumer, position, &reason, by, wait).await
        }
        Command::Projections { command: ProjectionsCommand::Rebuild { which, fresh } } => {
            rebuild(which.names()?, fresh).await
        }
        Command::Projections { command: ProjectionsCommand::Diff { which } } => diff(which.names()?).await,
        Command::Kafka { command: KafkaCommand::Republish { from, to } } => republish(from, to).await,
    }
}

async fn republish(from: i64, to: Option<i64>) -> anyhow::Result<ExitCode> {
    if from < 1 {
        anyhow::bail!("--from must be a position, 1 or more");
    }
    if let Some(to) = to
        && to < from
    {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    let head = store::read_head(&pool).await?.position;
    let to = to.unwrap_or(head).min(head);
    let producer: rdkafka::producer::FutureProducer = platform::kafka::producer_config(&config.kafka())
        .create()
        .context("creating the Kafka producer (KAFKA_BROKERS)")?;
    let mut after = from - 1;
    let mut published = 0u64;
    while after < to {
        let batch = store::read_range(&pool, after + 1, to.min(after + 2_000)).await?;
        let Some(last) = batch.last().map(|e| e.position) else {
            break;
        };
        relay::publish(&producer, &config.events_topic, &batch, &Default::default()).await?;
        published += batch.len() as u64;
        after = last;
    }
    eprintln!("republished {published} events, positions {from}..={to}, to {}", config.events_topic);
    Ok(ExitCode::SUCCESS)
}

async fn log_state(args: StateArgs) -> anyhow::Result<ExitCode> {
    let cut = match (args.at, args.position) {
        (_, Some(position)) if position < 1 => anyhow::bail!("--position must be 1 or more"),
        (_, Some(position)) => replay::state::Cut::Position(position),
        (Some(at), None) => replay::state::Cut::At(at),
        (None, None) => anyhow::bail!("name --at or --position"),
    };
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    let state = replay::state::state_at(&pool, &args.stream, cut).await?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(ExitCode::SUCCESS)
}

async fn projections_status(json: bool) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    let projections = projections::status::all(&pool).await?;
    let parked = store::parked::list(&pool, None).await?;
    let sagas = sagas::queue::waiting(&pool).await?;
    let set_aside = sagas::queue::set_aside_work(&pool).await?;
    let parked_of = |name: &str| parked.iter().filter(|p| p.consumer == name).count();
    let state = |p: &projections::status::ProjectionStatus| match (&p.last_error, p.lag, parked_of(&p.name)) {
        (Some(_), _, _) => "failing",
        (None, _, 1..) => "parked",
        (None, 0, _) => "caught up",
        (None, _, _) => "behind",
    };
    if json {
        let projections: Vec<serde_json::Value> = projections
            .iter()
            .map(|p| {
                serde_json::json!({"name": p.name, "position": p.position, "lag": p.lag, "state": state(p),
                    "last_error": p.last_error, "updated_at": p.updated_at, "parked": parked_of(&p.name)})
            })
            .collect();
        let sagas = serde_json::json!({"waiting": sagas.waiting, "due": sagas.due, "retrying": sagas.retrying,
            "oldest_due_at": sagas.oldest_due_at, "set_aside": set_aside});
        println!("{}", serde_json::json!({"projections": projections, "parked": parked, "sagas": sagas}));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<16} {:>12} {:>10}  {:<10} {:<26} last error", "projection", "position", "lag", "state", "updated");
    for p in &projections {
        let updated = p.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let error = p.last_error.as_deref().unwrap_or("-");
        println!("{:<16} {:>12} {:>10}  {:<10} {:<26} {error}", p.name, p.position, p.lag, state(p), updated);
    }
    if !parked.is_empty() {
        println!("parked events (`oxbow projections retry|skip POSITION`):");
        for p in &parked {
            let why = match (&p.error, p.tries) {
                (None, _) => "waits behind its stream's failed event".to_owned(),
                (Some(error), 1) => format!("failed: {error}"),
                (Some(error), tries) => format!("failed, and again on {} retries: {error}", tries - 1),
            };
            println!("  {:<10} {:>12} {} {} {why}", p.consumer, p.position, p.stream_id, p.event_type);
        }
    }
    println!(
        "sagas: {} pieces of work waiting, {} due now, {} being retried, {} set aside",
        sagas.waiting, sagas.due, sagas.retrying, sagas.set_aside
    );
    for work in &set_aside {
        let error = work.last_error.as_deref().unwrap_or("-");
        println!(
            "  set aside (`oxbow projections retry --consumer sagas {}`): {} {}: {error}",
            work.id, work.saga, work.key
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn retry_parked(consumer: &str, position: i64, wait: u64) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    if consumer == "sagas" {
        // The sagas' dead letter is their work: `position` is the work's id.
        if !sagas::queue::retry_set_aside(&pool, position).await? {
            anyhow::bail!("no saga work with id {position} is set aside (see `oxbow projections status`)");
        }
        println!("saga work {position} is due again");
        return Ok(ExitCode::SUCCESS);
    }
    let stream = projections::dead_letter::retry(&pool, consumer, position).await?;
    report_settled(&pool, consumer, &stream, wait).await
}

async fn skip_parked(
    consumer: &str,
    position: i64,
    reason: &str,
    by: Option<String>,
    wait: u64,
) -> anyhow::Result<ExitCode> {
    if reason.trim().is_empty() {
        anyhow::bail!("--reason must say why the event is given up");
    }
    let by = by.or_else(|| std::env::var("USER").ok()).filter(|by| !by.trim().is_empty());
    let Some(by) = by else { anyhow::bail!("--by must name the operator (no $USER to default to)") };
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    let actor = format!("operator:{by}");
    let stream = projections::dead_letter::skip(&pool, consumer, position, reason.trim(), &actor).await?;
    println!("skipped position {position} for {consumer}; the decision is in the log");
    report_settled(&pool, consumer, &stream, wait).await
}

async fn report_settled(pool: &sqlx::PgPool, consumer: &str, stream: &str, wait: u64) -> anyhow::Result<ExitCode> {
    use projections::dead_letter::Settled;
    match projections::dead_letter::settled(pool, consumer, stream, std::time::Duration::from_secs(wait)).await? {
        Settled::Applied => {
            println!("{stream} is applied and flows again");
            Ok(ExitCode::SUCCESS)
        }
        Settled::FailedAgain(error) => anyhow::bail!("{stream} failed again and stays parked: {error}"),
        Settled::Pending => {
            anyhow::bail!("no {consumer} took up {stream} within {wait} s; a running one will at its next batch")
        }
    }
}

async fn forget(subject: &str) -> anyhow::Result<ExitCode> {
    if subject.is_empty() {
        anyhow::bail!("--subject must name a person: an email or a user id");
    }
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    let (email, key_ids) = if subject.contains('@') {
        (Some(subject), Vec::new())
    } else {
        // A user's emails are those of the invitations they accepted.
        let emails: Vec<(String,)> =
            sqlx::query_as("select email from rm_workspace_invitations where accepted_by = $1")
                .bind(subject)
                .fetch_all(&pool)
                .await?;
        (None, emails.iter().filter_map(|(email,)| store::personal::key_id_of(email)).collect())
    };
    match store::personal::forget(&pool, email, &key_ids).await? {
        0 => println!("nothing to forget: no personal data of {subject} is held, or it was forgotten before"),
        keys => println!(
            "forgot {subject}: {keys} key(s) destroyed; their data reads {} everywhere from now on",
            store::personal::ERASED
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn rebuild(names: Vec<&'static str>, fresh: bool) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 4).await.context("connecting to PostgreSQL")?;
    // The switch of Redis is one MULTI over every key it serves.
    let redis = platform::redis::connect_patient(&config.redis_url, std::time::Duration::from_secs(300)).await?;
    for name in names {
        let started = std::time::Instant::now();
        let mut rebuild = projections::rebuild::Rebuild::open(&pool, fresh).await?;
        if let Some(batch) = rebuild_batch()? {
            rebuild = rebuild.with_batch(batch);
        }
        if rebuild.resumed() {
            eprintln!("resuming the rebuild of {name} at position {}", rebuild.position());
        }
        let from = rebuild.position();
        catch_up(&mut rebuild, name, "rebuilding").await?;
        let position = rebuild.switch_over().await?;
        let mut live = projections::live::Live::new(redis.clone(), platform::redis::Keys::new(&config.redis_prefix));
        live.replace_all(&pool).await.context("replacing what Redis serves")?;
        let seconds = started.elapsed().as_secs_f64();
        let events = position - from;
        println!(
            "rebuilt {name}: {events} events in {seconds:.2} s ({:.0} events/s); switched over at position {position}",
            events as f64 / seconds.max(1e-9)
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn diff(names: Vec<&'static str>) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 4).await.context("connecting to PostgreSQL")?;
    let mut differs = false;
    for name in names {
        let mut rebuild = projections::rebuild::Rebuild::open(&pool, true).await?;
        if let Some(batch) = rebuild_batch()? {
            rebuild = rebuild.with_batch(batch);
        }
        catch_up(&mut rebuild, name, "rebuilding to compare").await?;
        let diffs = rebuild.compare().await?;
        if diffs.is_empty() {
            println!("{name}: no differences");
        }
        for diff in diffs {
            differs = true;
            println!(
                "{name}.{}: {} rows only in the live projection, {} only in the rebuild",
                diff.table, diff.only_live, diff.only_rebuilt
            );
            for (side, row) in diff.examples {
                let mark = if side == projections::rebuild::Side::Live { '-' } else { '+' };
                println!("  {mark} {row}");
            }
        }
    }
    Ok(if differs { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `OXBOW_REBUILD_BATCH`: events per transaction of a rebuild (memory against speed).
fn rebuild_batch() -> anyhow::Result<Option<i64>> {
    match std::env::var("OXBOW_REBUILD_BATCH") {
        Err(_) => Ok(None),
        Ok(text) => match text.parse::<i64>() {
            Ok(batch) if batch > 0 => Ok(Some(batch)),
            _ => anyhow::bail!("OXBOW_REBUILD_BATCH must be a positive number of events, not {text:?}"),
        },
    }
}

/// Brings a rebuild close to the live projection, which keeps moving, with a progress line.
async fn catch_up(rebuild: &mut projections::rebuild::Rebuild, name: &str, doing: &str) -> anyhow::Result<()> {
    let mut target = rebuild.live_position().await?;
    let mut progress = Progress::new(format!("{doing} {name}"), rebuild.position() + 1, target);
    // Each pass is shorter than the last; what remains is applied under the projection's lock.
    for _ in 0..3 {
        rebuild.catch_up(target, |position| progress.show(position)).await?;
        target = rebuild.live_position().await?;
        progress.extend_to(target);
        if target - rebuild.position() < 1_000 {
            break;
        }
    }
    progress.clear();
    Ok(())
}

/// A progress line on a terminal, with rate and time left; nothing when stderr is a file or
/// a pipe.
struct Progress {
    label: String,
    first: i64,
    last: i64,
    started: std::time::Instant,
    terminal: bool,
}

impl Progress {
    fn new(label: String, first: i64, last: i64) -> Progress {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Progress { label, first, last, started: std::time::Instant::now(), terminal }
    }

    fn extend_to(&mut self, last: i64) {
        self.last = self.last.max(last);
    }

    fn show(&self, position: i64) {
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

    fn clear(&self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}

async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        anyhow::bail!("--from {from} is not before --to {to}");
    }
    let scope = match (args.stream, args.workspace) {
        (Some(stream), _) if stream.trim().is_empty() => anyhow::bail!("--stream must not be empty"),
        (Some(stream), _) => replay::export::Scope::Stream(stream),
        (None, Some(workspace)) => replay::export::Scope::Workspace(workspace),
        (None, None) => anyhow::bail!("name --stream or --workspace"),
    };
    let format = match args.format {
        ExportFormat::Jsonl => replay::export::Format::JsonLines,
        ExportFormat::Csv => replay::export::Format::Csv,
    };
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = replay::export::export(&pool, &scope, args.from, args.to, format, &mut out).await?;
    drop(out);
    eprintln!("exported {written} events");
    Ok(ExitCode::SUCCESS)
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        anyhow::bail!("--from {from} is after --to {to}");
    }
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, 2).await.context("connecting to PostgreSQL")?;
    let started = std::time::Instant::now();
    let range = replay::verify::Range { from: args.from, to: args.to };
    let (first, last) = (args.from.unwrap_or(1).max(1), store::read_head(&pool).await?.position);
    let progress = Progress::new("verifying".into(), first, args.to.map_or(last, |to| to.min(last)));
    let outcome = replay::verify::verify(&pool, range, |position| progress.show(position)).await;
    progress.clear();
    match outcome {
        Ok(verified) => {
            let seconds = started.elapsed().as_secs_f64();
            match (verified.first, verified.last) {
                (Some(first), Some(last)) => println!(
                    "ok: {} events verified, positions {first}..={last}, in {seconds:.2} s ({:.0} events/s)",
                    verified.events,
                    verified.events as f64 / seconds.max(1e-9)
                ),
                _ => println!("ok: the range holds no events"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(replay::verify::Error::Broken(broken)) => {
            eprintln!("error: the log is broken at position {}: {broken}", broken.position());
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.into()),
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}
