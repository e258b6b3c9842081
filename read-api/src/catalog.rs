//! GraphQL over the catalog: agents and workflows of the workspaces the caller belongs to.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use events::WorkspaceId;
use events::workflows::Step;
use events::workspace::Role;
use projections::agents::AgentRow;
use projections::billing::{AccountRow, InvoiceRow};
use projections::workflows::WorkflowRow;
use sqlx::PgPool;

use crate::guard::{PageRequest, if_member, internal, parse_id, role_in, services, viewer};

#[derive(SimpleObject, Clone)]
pub struct Price {
    pub per_call: i64,
    #[graphql(name = "per1kInputTokens")]
    pub per_1k_input_tokens: i64,
    #[graphql(name = "per1kOutputTokens")]
    pub per_1k_output_tokens: i64,
    /// The input rate, as it was named before input and output tokens were priced apart.
    #[graphql(name = "per1kTokens", deprecation = "use per1kInputTokens and per1kOutputTokens")]
    pub per_1k_tokens: i64,
}

#[derive(Clone)]
pub struct Agent(AgentRow);

#[Object]
impl Agent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn workspace_id(&self) -> ID {
        ID(self.0.workspace_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// prompt, model, decision, governance, operations or tool.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// `{"type": "builtin" | "webhook" | "external", …}` as registered.
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    async fn executor(&self) -> Json<serde_json::Value> {
        Json(self.0.executor.clone())
    }
    async fn price(&self) -> Price {
        Price {
            per_call: self.0.per_call,
            per_1k_input_tokens: self.0.per_1k_input_tokens,
            per_1k_output_tokens: self.0.per_1k_output_tokens,
            per_1k_tokens: self.0.per_1k_input_tokens,
        }
    }
    /// Each update is a new version.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn retired(&self) -> bool {
        self.0.retired
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The credentials in force for the agent's worker, oldest first: to its workspace's
    /// admins; empty for everyone else. A secret is shown only when issued.
    #[graphql(complexity = "20 * child_complexity")]
    async fn worker_credentials(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WorkerCredential>> {
        let role = role_in(ctx, WorkspaceId(self.0.workspace_id)).await?;
        if !role.is_some_and(|role| role.at_least(Role::Admin)) {
            return Ok(Vec::new());
        }
        let credentials = projections::agents::worker_credentials(&services(ctx).pool, events::AgentId(self.0.id))
            .await
            .map_err(|error| internal(format!("{error:#}")))?;
        let credentials: Vec<WorkerCredential> = credentials
            .into_iter()
            .map(|row| WorkerCredential {
                id: ID(row.id.to_string()),
                issued_at: row.issued_at,
                issued_by: row.issued_by,
            })
            .collect();
        Ok(credentials)
    }
}

/// A credential with which an external agent's worker reports its steps.
#[derive(SimpleObject, Clone)]
pub struct WorkerCredential {
    pub id: ID,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
}

#[derive(SimpleObject, Clone)]
pub struct RetryPolicy {
    pub max_attempts: i64,
    pub backoff_ms: i64,
}

/// What does a step's work.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "events::workflows::StepKind")]
pub enum StepKind {
    Agent,
    /// A member approves or rejects it.
    Approval,
    /// A member, or the worker of its signal agent, sends its output.
    Signal,
}

#[derive(SimpleObject, Clone)]
pub struct WorkflowStep {
    pub id: String,
    pub kind: StepKind,
    /// The agent that does its work; null for a step a person answers.
    pub agent_id: Option<ID>,
    /// An approval's least role that may answer it.
    pub approvers: Option<crate::workspaces::Role>,
    /// A signal's least role that may send it.
    pub signalers: Option<crate::workspaces::Role>,
    /// The external agent whose worker may send a signal.
    pub signal_agent_id: Option<ID>,
    pub depends_on: Vec<String>,
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    pub input: Json<serde_json::Value>,
    pub retry: RetryPolicy,
    pub timeout_ms: i64,
}

/// The steps a read model row stores. A row this code cannot read is an error, not an empty
/// workflow.
fn steps_of(steps: &serde_json::Value) -> async_graphql::Result<Vec<WorkflowStep>> {
    let steps: Vec<Step> = serde_json::from_value(steps.clone()).map_err(internal)?;
    Ok(steps
        .into_iter()
        .map(|step| WorkflowStep {
            timeout_ms: step.timeout_ms() as i64,
            id: step.id,
            kind: step.kind.into(),
            agent_id: step.agent_id.map(|id| ID(id.to_string())),
            approvers: step.approvers.map(Into::into),
            signalers: step.signalers.map(Into::into),
            signal_agent_id: step.signal_agent_id.map(|id| ID(id.to_string())),
            depends_on: step.depends_on,
            input: Json(step.input),
            retry: RetryPolicy {
                max_attempts: step.retry.max_attempts.into(),
                backoff_ms: step.retry.backoff_ms as i64,
            },
        })
        .collect())
}

#[derive(SimpleObject, Clone)]
pub struct WorkflowVersion {
    pub version: i32,
    pub name: String,
    #[graphql(complexity = "crate::guard::STEPS * child_complexity")]
    pub steps: Vec<WorkflowStep>,
    /// What a run of this version produces: a template over `run.input` and `steps.*`.
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    pub output: Option<Json<serde_json::Value>>,
}

#[derive(Clone)]
pub struct Workflow(WorkflowRow);

#[Object]
impl Workflow {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn workspace_id(&self) -> ID {
        ID(self.0.workspace_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The current version; every revision is a new one.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn archived(&self) -> bool {
        self.0.archived
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    #[graphql(complexity = "crate::guard::STEPS * child_complexity")]
    async fn steps(&self) -> async_graphql::Result<Vec<WorkflowStep>> {
        steps_of(&self.0.steps)
    }
    /// What a run produces: a template over `run.input` and `steps.*`, resolved when the run
    /// succeeds. Null when the workflow declares none.
    #[graphql(complexity = "crate::guard::JSON_WEIGHT")]
    async fn output(&self) -> Option<Json<serde_json::Value>> {
        self.0.output.clone().map(Json)
    }
    /// Its versions, oldest first: `first` of them (50 unless asked, at most 500) after
    /// `afterVersion`.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn versions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after_version: Option<i32>,
    ) -> async_graphql::Result<Vec<WorkflowVersion>> {
        let limit = crate::guard::page_size(first)?;
        let after = after_version.unwrap_or(0);
        let versions = projections::workflows::versions(&services(ctx).pool, self.0.id.into(), after, limit)
            .await
            .map_err(internal)?;
        versions
            .into_iter()
            .map(|v| {
                Ok(WorkflowVersion {
                    version: v.version,
                    name: v.name,
                    steps: steps_of(&v.steps)?,
                    output: v.output.map(Json),
                })
            })
            .collect()
    }
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// An agent of a workspace the caller is a member of; null otherwise.
    async fn agent(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Agent>> {
        let id = parse_id(&id, "id")?;
        let agent = projections::agents::agent(&services(ctx).pool, id).await.map_err(internal)?;
        if_member(ctx, agent.map(Agent), |agent: &Agent| agent.0.workspace_id.into()).await
    }

    /// A workspace's agents, oldest first; retired ones only when asked.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn agents(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        #[graphql(default = false)] include_retired: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Agent>> {
        let Some(request) = PageRequest::of(ctx, &workspace_id, first, after).await? else {
            return Ok(Connection::new(false, false));
        };
        let pool = &services(ctx).pool;
        let rows =
            projections::agents::page(pool, request.workspace_id, include_retired, request.after, request.rows())
                .await
                .map_err(internal)?;
        Ok(request.connection(rows.into_iter().map(Agent).collect(), |agent: &Agent| agent.0.id))
    }

    /// A workflow of a workspace the caller is a member of; null otherwise.
    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Workflow>> {
        let id = parse_id(&id, "id")?;
        let workflow = projections::workflows::workflow(&services(ctx).pool, id).await.map_err(internal)?;
        if_member(ctx, workflow.map(Workflow), |workflow: &Workflow| workflow.0.workspace_id.into()).await
    }

    /// A workspace's workflows, oldest first; archived ones only when asked.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        #[graphql(default = false)] include_archived: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Workflow>> {
        let Some(request) = PageRequest::of(ctx, &workspace_id, first, after).await? else {
            return Ok(Connection::new(false, false));
        };
        let pool = &services(ctx).pool;
        let rows =
            projections::workflows::page(pool, request.workspace_id, include_archived, request.after, request.rows())
                .await
                .map_err(internal)?;
        Ok(request.connection(rows.into_iter().map(Workflow).collect(), |workflow: &Workflow| workflow.0.id))
    }
}

/// A workspace's credit account. available = balance − reserved.
#[derive(SimpleObject, Clone)]
pub struct BillingAccount {
    pub plan: String,
    pub balance: i64,
    pub reserved: i64,
    pub available: i64,
    pub overdraft_limit: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<AccountRow> for BillingAccount {
    fn from(row: AccountRow) -> BillingAccount {
        BillingAccount {
            available: row.balance.saturating_sub(row.reserved),
            plan: row.plan,
            balance: row.balance,
            reserved: row.reserved,
            overdraft_limit: row.overdraft_limit,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Clone)]
pub struct Invoice(InvoiceRow);

#[Object]
impl Invoice {
    async fn id(&self) -> ID {
        ID(self.0.invoice_id.to_string())
    }
    async fn amount(&self) -> i64 {
        self.0.amount
    }
    async fn paid(&self) -> i64 {
        self.0.paid
    }
    async fn captured_in_period(&self) -> i64 {
        self.0.captured_in_period
    }
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }
    async fn due_at(&self) -> DateTime<Utc> {
        self.0.due_at
    }
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// The workspace's billing account, for its members; null otherwise or when none is open.
    async fn billing_account(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
    ) -> async_graphql::Result<Option<BillingAccount>> {
        viewer(ctx)?;
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(None);
        }
        billing_account(&services(ctx).pool, workspace_id).await
    }

    /// The workspace's invoices, newest first: `first` of them (50 unless asked, at most 500)
    /// older than the invoice `after`.
    #[graphql(complexity = "crate::guard::page_weight(first) * child_complexity")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        first: Option<i32>,
        after: Option<ID>,
    ) -> async_graphql::Result<Vec<Invoice>> {
        viewer(ctx)?;
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        let limit = crate::guard::page_size(first)?;
        let after = after.as_ref().map(|after| parse_id(after, "after")).transpose()?;
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(Vec::new());
        }
        let invoices =
            projections::billing::invoices(&services(ctx).pool, workspace_id, after, limit).await.map_err(internal)?;
        Ok(invoices.into_iter().map(Invoice).collect())
    }
}

pub(crate) async fn billing_account(
    pool: &PgPool,
    workspace_id: WorkspaceId,
) -> async_graphql::Result<Option<BillingAccount>> {
    let account = projections::billing::account(pool, workspace_id).await.map_err(internal)?;
    Ok(account.map(BillingAccount::from))
}
