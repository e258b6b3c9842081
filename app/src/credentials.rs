//! Worker credentials: `oxw.…` as an external agent's worker presents it, turned into its caller.

use commands::Aggregate;
use commands::agents::Agent;
use store::{EventLog, KeyStore};

use crate::command::Caller;
use crate::error::CommandError;
use crate::load::Loader;

/// What a worker credential turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Worker {
    /// In force: its agent exists, is not retired, and holds it.
    InForce(Caller),
    /// Its agent has never been registered: the same credential will be refused again, so a
    /// caller may remember so for a while without asking the log.
    NoSuchAgent,
    /// Malformed, revoked, or of a retired agent.
    NotInForce,
}

/// The worker a credential names, read from the agent's stream, so that a revocation made by
/// any process counts at once.
pub(crate) async fn worker<L>(loader: &Loader<L>, credential: &str) -> Result<Worker, CommandError>
where
    L: EventLog + KeyStore,
{
    let Some((agent_id, credential_id, secret)) = commands::agents::parse_worker_credential(credential) else {
        return Ok(Worker::NotInForce);
    };
    let (folded, _) = loader.current::<Agent>(&Agent::stream_id(agent_id)).await?;
    Ok(match folded.state.0 {
        None => Worker::NoSuchAgent,
        Some(agent) if agent.accepts(credential_id, secret) => {
            Worker::InForce(Caller::worker(agent_id, agent.workspace_id, credential_id))
        }
        Some(_) => Worker::NotInForce,
    })
}
