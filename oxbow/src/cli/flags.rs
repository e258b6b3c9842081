//! The command line: every subcommand and its flags, as clap reads them.

use clap::{Args, Parser, Subcommand};
use oxbow::Role;

#[derive(Parser)]
#[command(name = "oxbow", version, about = "Event-sourced CQRS backend for multi-tenant AI-agent platforms")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
pub enum KafkaCommand {
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
pub enum ProjectionsCommand {
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
pub struct WhichProjections {
    /// The projection (see `oxbow projections status`).
    pub name: Option<String>,
    /// Every projection.
    #[arg(long)]
    pub all: bool,
}

impl WhichProjections {
    pub fn names(&self) -> anyhow::Result<Vec<&'static str>> {
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
pub enum LogCommand {
    /// Checks the hash chain and that positions are gap-free; names the first bad position.
    Verify(VerifyArgs),
    /// Writes a stream's or a workspace's audit trail to stdout, in log order.
    Export(ExportArgs),
    /// Prints an aggregate's state at a point in its history, as JSON.
    State(StateArgs),
    /// Crypto-shreds a person's personal data: records the erasure in the log
    /// (`SubjectForgotten`, key ids only), then destroys their keys, so it reads as erased
    /// everywhere, rebuilt projections too. The log's history is untouched and still verifies.
    Forget {
        /// The person: an email, or a user id (the emails of the invitations they accepted).
        #[arg(long, required_unless_present = "key_id", conflicts_with = "key_id")]
        subject: Option<String>,
        /// Keys to destroy by id, as a `SubjectForgotten` names them: to forget again, after a
        /// restore, what was forgotten after the restore point. May be repeated.
        #[arg(long = "key-id")]
        key_id: Vec<uuid::Uuid>,
        /// Who decides; recorded as the event's actor `operator:<by>` (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Args)]
pub struct StateArgs {
    /// The aggregate's stream, e.g. billing-0193c0de-0000-7000-8000-000000000001.
    #[arg(long)]
    pub stream: String,
    /// The state after the last event recorded at or before this time (RFC 3339).
    #[arg(long, conflicts_with = "position", required_unless_present = "position")]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// The state after the last event at or below this global position.
    #[arg(long)]
    pub position: Option<i64>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// A stream, e.g. workspace-0193c0de-0000-7000-8000-000000000001.
    #[arg(long, conflicts_with = "workspace", required_unless_present = "workspace")]
    pub stream: Option<String>,
    /// Every event of a workspace (a UUID).
    #[arg(long)]
    pub workspace: Option<uuid::Uuid>,
    /// Only events recorded at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events recorded before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The first position to check (default: 1).
    #[arg(long)]
    pub from: Option<i64>,
    /// The last position to check (default: the log's head).
    #[arg(long)]
    pub to: Option<i64>,
}

impl Command {
    /// What this process is, for its spans: the roles it serves, or `cli`.
    /// How much the process logs: a server says what it does, a command only its answer.
    pub fn verbosity(&self) -> platform::telemetry::Verbosity {
        match self {
            Command::Serve { .. } => platform::telemetry::Verbosity::Serving,
            _ => platform::telemetry::Verbosity::Command,
        }
    }

    pub fn roles(&self) -> String {
        match self {
            Command::Serve { roles, .. } if !roles.is_empty() => {
                roles.iter().map(|role| role.name()).collect::<Vec<_>>().join(",")
            }
            Command::Serve { .. } => "all".to_owned(),
            _ => "cli".to_owned(),
        }
    }
}
