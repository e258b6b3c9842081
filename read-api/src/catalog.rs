//! GraphQL over the catalog: agents and workflows of the workspaces the caller belongs to.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use events::workflows::Step;
use sqlx::PgPool;
use uuid::Uuid;

use crate::guard::{if_member, internal, page, parse_id, role_in, services};

#[derive(SimpleObject, Clone)]
pub struct Price {
    pub per_call: i64,
    #[graphql(name = "per1kTokens")]
    pub per_1k_tokens: i64,
}

#[derive(SimpleObject, Clone, sqlx::FromRow)]
#[graphql(complex)]
pub struct Agent {
    #[graphql(skip)]
    pub id: Uuid,
    #[graphql(skip)]
    pub workspace_id: Uuid,
    pub name: String,
    /// prompt, model, decision, governance, operations or tool.
    pub kind: String,
    #[graphql(skip)]
    pub executor: serde_json::Value,
    #[graphql(skip)]
    pub per_call: i64,
    #[graphql(skip)]
    pub per_1k_tokens: i64,
    /// Each update is a new version.
    pub version: i32,
    pub retired: bool,
    pub updated_at: DateTime<Utc>,
}

#[async_graphql::ComplexObject]
impl Agent {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    async fn workspace_id(&self) -> ID {
        ID(self.workspace_id.to_string())
    }
    /// `{"type": "builtin" | "webhook" | "external", …}` as registered.
    async fn executor(&self) -> Json<serde_json::Value> {
        Json(self.executor.clone())
    }
    async fn price(&self) -> Price {
        Price { per_call: self.per_call, per_1k_tokens: self.per_1k_tokens }
    }
}

#[derive(SimpleObject, Clone)]
pub struct RetryPolicy {
    pub max_attempts: i64,
    pub backoff_ms: i64,
}

#[derive(SimpleObject, Clone)]
pub struct WorkflowStep {
    pub id: String,
    pub agent_id: ID,
    pub depends_on: Vec<String>,
    pub input: Json<serde_json::Value>,
    pub retry: RetryPolicy,
    pub timeout_ms: i64,
}

fn steps_of(steps: &serde_json::Value) -> Vec<WorkflowStep> {
    let steps: Vec<Step> = serde_json::from_value(steps.clone()).unwrap_or_default();
    steps
        .into_iter()
        .map(|step| WorkflowStep {
            id: step.id,
            agent_id: ID(step.agent_id.to_string()),
            depends_on: step.depends_on,
            input: Json(step.input),
            retry: RetryPolicy {
                max_attempts: step.retry.max_attempts.into(),
                backoff_ms: step.retry.backoff_ms as i64,
            },
            timeout_ms: step.timeout_ms as i64,
        })
        .collect()
}

#[derive(SimpleObject, Clone)]
pub struct WorkflowVersion {
    pub version: i32,
    pub name: String,
    pub steps: Vec<WorkflowStep>,
}

#[derive(Clone, sqlx::FromRow)]
pub struct Workflow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    version: i32,
    steps: serde_json::Value,
    archived: bool,
    updated_at: DateTime<Utc>,
}

#[Object]
impl Workflow {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    async fn workspace_id(&self) -> ID {
        ID(self.workspace_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.name
    }
    /// The current version; every revision is a new one.
    async fn version(&self) -> i32 {
        self.version
    }
    async fn archived(&self) -> bool {
        self.archived
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    async fn steps(&self) -> Vec<WorkflowStep> {
        steps_of(&self.steps)
    }
    /// Every version, oldest first.
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WorkflowVersion>> {
        let rows: Vec<(i32, String, serde_json::Value)> = sqlx::query_as(
            "select version, name, steps from rm_workflow_versions where workflow_id = $1 order by version",
        )
        .bind(self.id)
        .fetch_all(&services(ctx).pool)
        .await
        .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(version, name, steps)| WorkflowVersion { version, name, steps: steps_of(&steps) })
            .collect())
    }
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// An agent of a workspace the caller is a member of; null otherwise.
    async fn agent(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Agent>> {
        let id = parse_id(&id, "id")?;
        let agent = sqlx::query_as("select * from rm_agents where id = $1")
            .bind(id)
            .fetch_optional(&services(ctx).pool)
            .await
            .map_err(internal)?;
        if_member(ctx, agent, |agent: &Agent| agent.workspace_id).await
    }

    /// A workspace's agents, oldest first; retired ones only when asked.
    async fn agents(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        #[graphql(default = false)] include_retired: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Agent>> {
        let sql = "select * from rm_agents where workspace_id = $1 and id > $2 and ($3 or not retired) \
                   order by id limit $4";
        page(ctx, &workspace_id, sql, include_retired, first, after, |agent: &Agent| agent.id).await
    }

    /// A workflow of a workspace the caller is a member of; null otherwise.
    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Workflow>> {
        let id = parse_id(&id, "id")?;
        let workflow = sqlx::query_as("select * from rm_workflows where id = $1")
            .bind(id)
            .fetch_optional(&services(ctx).pool)
            .await
            .map_err(internal)?;
        if_member(ctx, workflow, |workflow: &Workflow| workflow.workspace_id).await
    }

    /// A workspace's workflows, oldest first; archived ones only when asked.
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        workspace_id: ID,
        #[graphql(default = false)] include_archived: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Workflow>> {
        let sql = "select * from rm_workflows where workspace_id = $1 and id > $2 and ($3 or not archived) \
                   order by id limit $4";
        page(ctx, &workspace_id, sql, include_archived, first, after, |workflow: &Workflow| workflow.id).await
    }
}

/// A workspace's credit account. available = balance − reserved.
#[derive(SimpleObject, Clone, sqlx::FromRow)]
pub struct BillingAccount {
    pub plan: String,
    pub balance: i64,
    pub reserved: i64,
    pub available: i64,
    pub overdraft_limit: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone, sqlx::FromRow)]
#[graphql(complex)]
pub struct Invoice {
    #[graphql(skip)]
    pub invoice_id: Uuid,
    pub amount: i64,
    pub paid: i64,
    pub captured_in_period: i64,
    pub issued_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
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
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        let pool = &services(ctx).pool;
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(None);
        }
        billing_account(pool, workspace_id).await
    }

    /// The workspace's invoices, newest first.
    async fn invoices(&self, ctx: &Context<'_>, workspace_id: ID) -> async_graphql::Result<Vec<Invoice>> {
        let workspace_id = parse_id(&workspace_id, "workspaceId")?;
        let pool = &services(ctx).pool;
        if role_in(ctx, workspace_id).await?.is_none() {
            return Ok(Vec::new());
        }
        sqlx::query_as(
            "select invoice_id, amount, paid, captured_in_period, issued_at, due_at from rm_invoices \
              where workspace_id = $1 order by issued_at desc",
        )
        .bind(workspace_id)
        .fetch_all(pool)
        .await
        .map_err(internal)
    }
}

pub(crate) async fn billing_account(
    pool: &PgPool,
    workspace_id: Uuid,
) -> async_graphql::Result<Option<BillingAccount>> {
    sqlx::query_as(
        "select plan, balance, reserved, balance - reserved as available, overdraft_limit, updated_at \
           from rm_billing_accounts where workspace_id = $1",
    )
    .bind(workspace_id)
    .fetch_optional(pool)
    .await
    .map_err(internal)
}

#[async_graphql::ComplexObject]
impl Invoice {
    async fn id(&self) -> ID {
        ID(self.invoice_id.to_string())
    }
}
