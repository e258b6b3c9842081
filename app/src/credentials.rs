//! Worker credentials: `oxw.…` as an external agent's worker presents it, turned into its caller.

use commands::Aggregate;
use commands::agents::Agent;
use store::{EventLog, KeyStore};

use crate::command::Caller;
use crate::error::CommandError;
use crate::load::Loader;

/// The worker a credential names, when the credential is in force: its agent exists, is not
/// retired, and holds it (read from the agent's stream, so a revocation made by any process
/// counts at once). `None` for a credential that is malformed or not in force.
pub(crate) async fn worker<L>(loader: &Loader<L>, credential: &str) -> Result<Option<Caller>, CommandError>
where
    L: EventLog + KeyStore,
{
    let Some((agent_id, credential_id, secret)) = commands::agents::parse_worker_credential(credential) else {
        return Ok(None);
    };
    let (folded, _) = loader.current::<Agent>(&Agent::stream_id(agent_id)).await?;
    Ok(folded
        .state
        .0
        .filter(|agent| agent.accepts(credential_id, secret))
        .map(|agent| Caller::worker(agent_id, agent.workspace_id, credential_id)))
}
