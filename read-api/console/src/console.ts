// The run console: a client of Oxbow's public API and nothing else. It reads over GraphQL
// (`/graphql`, subscriptions on `/graphql/ws`) and acts through the command endpoint
// (`/v1/commands`), both on this origin, through Oxbow's TypeScript client (bundled in by
// scripts/build-console). Tenant data is only ever set as text, never as markup.

import {
  type Accepted,
  type Command,
  type Consumer,
  type DeadLetters,
  Oxbow,
  OxbowError,
  OxbowGraphQLError,
  type Settled,
} from '../../../clients/typescript/src/index.js';

type Json = unknown;
type Role = 'VIEWER' | 'MEMBER' | 'ADMIN' | 'OWNER';

const ROLES: Role[] = ['VIEWER', 'MEMBER', 'ADMIN', 'OWNER'];
const atLeast = (role: Role | null | undefined, least: Role) =>
  role != null && ROLES.indexOf(role) >= ROLES.indexOf(least);

// ---- The token: from the address's fragment or the sign-in form, kept for this tab only.

const TOKEN_KEY = 'oxbow.token';

function takeTokenFromAddress(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search + '#/');
  }
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

// ---- The API, through Oxbow's TypeScript client.

const oxbow = new Oxbow({ baseUrl: location.origin, token: () => token() ?? '' });

/** The log position of this page's last accepted command: queries read at least that far. */
let lastPosition = 0;

function query<T>(document: string, variables: Record<string, Json> = {}): Promise<T> {
  return oxbow.query<T>(document, variables, lastPosition > 0 ? { minPosition: lastPosition } : {});
}

/** Sends a command; its answer, or an {@link OxbowError} with the server's problem details. */
async function command(command: Command): Promise<Accepted> {
  const accepted = await oxbow.command(command);
  lastPosition = Math.max(lastPosition, accepted.position);
  return accepted;
}

/** An operator's read of the dead letters; `null` when the caller is no operator. */
function deadLetters(): Promise<DeadLetters | null> {
  return oxbow.deadLetters().catch((error) => {
    if (error instanceof OxbowError && error.status === 403) return null;
    throw error;
  });
}

/** What the server said when it refused: the problem's `detail`, or the GraphQL errors. */
function refusal(error: unknown): string {
  if (error instanceof OxbowError) return error.problem.detail;
  if (error instanceof OxbowGraphQLError) return error.errors.map((each) => each.message).join('; ');
  return error instanceof Error ? error.message : String(error);
}

/** The live subscriptions of the page shown, all over one socket; ended when the page changes. */
const subscriptions: (() => void)[] = [];

function subscribe<T>(document: string, variables: Record<string, Json>, sink: (data: T) => void): void {
  const refused = (error: unknown) => console.error(`a live update was refused: ${refusal(error)}`);
  subscriptions.push(oxbow.subscribe<T>(document, variables, sink, refused));
}

function unsubscribeAll(): void {
  for (const stop of subscriptions.splice(0)) stop();
}

// ---- Building the page: elements with text, never markup.

type Child = Node | string | number | null | undefined | false;

function el(tag: string, attributes: Record<string, string | boolean> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) element.setAttribute(name, '');
    else if (value !== false) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

function svg(tag: string, attributes: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) if (child) element.append(child instanceof Node ? child : String(child));
  return element;
}

const main = () => document.getElementById('main') as HTMLElement;

function show(...children: Child[]): void {
  const shown = children.filter((child) => child !== null && child !== undefined && child !== false);
  main().replaceChildren(...shown.map((child) => (typeof child === 'number' ? String(child) : (child as Node | string))));
}

const json = (value: Json) => JSON.stringify(value, null, 2);
const time = (value: string | null) => (value ? new Date(value).toLocaleString() : '—');
const statusOf = (status: string) => el('span', { class: `status status-${status}` }, status);

/** An alert that shows what the server said when it refused. */
function alertBox(): { element: HTMLElement; say: (error: unknown) => void } {
  const element = el('p', { role: 'alert' });
  return { element, say: (error) => (element.textContent = refusal(error)) };
}

// ---- Views.

function signIn(): void {
  const input = el('textarea', { id: 'token', rows: '4', required: true, 'aria-label': 'Token' }) as HTMLTextAreaElement;
  const form = el(
    'form',
    { class: 'sign-in' },
    el('h1', {}, 'Sign in'),
    el('label', { for: 'token' }, 'Your token (a JWT); it is kept in this tab only'),
    input,
    el('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    route();
  });
  show(form);
}

interface WorkspaceRow {
  id: string;
  name: string;
  myRole: Role;
  runCounts: Record<string, number>;
}

interface Account {
  balance: number;
  reserved: number;
  available: number;
}

async function workspaces(): Promise<void> {
  const data = await query<{ workspaces: { nodes: WorkspaceRow[] } }>(
    `query ConsoleWorkspaces { workspaces(first: 100) { nodes { id name myRole
       runCounts { requested running succeeded failed cancelled rejected } } } }`,
  );
  const nodes = data.workspaces.nodes;
  // Every workspace's account in one request, an alias each: a request per workspace would
  // spend the caller's rate limit on one page.
  const accounts = nodes.length
    ? await query<Record<string, Account | null>>(
        `query ConsoleBilling(${nodes.map((_, n) => `$w${n}: ID!`).join(', ')}) {
           ${nodes.map((_, n) => `w${n}: billingAccount(workspaceId: $w${n}) { balance reserved available }`).join(' ')} }`,
        Object.fromEntries(nodes.map((workspace, n) => [`w${n}`, workspace.id])),
      ).catch(() => ({}) as Record<string, Account | null>)
    : {};
  const rows = nodes.map((workspace, n) => {
    const account = accounts[`w${n}`];
    const counts = Object.entries(workspace.runCounts)
      .filter(([, count]) => count > 0)
      .map(([status, count]) => `${status} ${count}`)
      .join(', ');
    return el(
      'tr',
      { 'data-workspace-id': workspace.id },
      el('td', {}, el('a', { href: `#/w/${workspace.id}` }, workspace.name)),
      el('td', {}, workspace.myRole),
      el('td', {}, counts || 'no runs'),
      el('td', {}, account ? `${account.balance} / ${account.reserved} / ${account.available}` : '—'),
    );
  });
  show(
    el('h1', {}, 'Workspaces'),
    table(['Workspace', 'Your role', 'Runs', 'Balance / reserved / available'], rows, 'You are a member of no workspace.'),
  );
}

interface RunRow {
  id: string;
  workspaceId: string;
  workflowId: string;
  workflowVersion: number;
  status: string;
  budget: number;
  creditsUsed: number;
  requestedAt: string;
  finishedAt: string | null;
}

const RUN_FIELDS = 'id workspaceId workflowId workflowVersion status budget creditsUsed requestedAt finishedAt';

function runRow(run: RunRow): HTMLElement {
  return el(
    'tr',
    { 'data-run-id': run.id, 'data-status': run.status },
    el('td', {}, el('a', { href: `#/r/${run.id}` }, run.id.slice(0, 8))),
    el('td', {}, statusOf(run.status)),
    el('td', {}, `${run.workflowId.slice(0, 8)} v${run.workflowVersion}`),
    el('td', {}, `${run.creditsUsed} / ${run.budget}`),
    el('td', {}, time(run.requestedAt)),
    el('td', {}, time(run.finishedAt)),
  );
}

/** What the list of runs shows: of a status, of a workflow, requested from a day until one. */
interface RunFilter {
  status: string;
  workflow: string;
  from: string;
  to: string;
  /** How many runs a page holds: `?page=`, 1 to 100, 50 unless given. */
  page: number;
}

const filterOf = (search: string): RunFilter => {
  const params = new URLSearchParams(search);
  const page = Math.trunc(Number(params.get('page')));
  return {
    status: params.get('status') ?? '', workflow: params.get('workflow') ?? '', from: params.get('from') ?? '',
    to: params.get('to') ?? '', page: page >= 1 && page <= 100 ? page : 50,
  };
};

/** Whether a run changed live belongs in the list as filtered. */
const kept = (run: RunRow, filter: RunFilter) =>
  (!filter.status || run.status === filter.status) && (!filter.workflow || run.workflowId === filter.workflow)
  && (!filter.from || run.requestedAt >= new Date(filter.from).toISOString())
  && (!filter.to || run.requestedAt < new Date(filter.to).toISOString());

interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

interface Page<T> {
  nodes: T[];
  pageInfo: PageInfo;
}

/** A button that adds the next page of a list to `body`, after the page `first`, and hides
 * itself after the last page. `row` draws a node, or gives null for one shown already; a refusal
 * is told to `say`. */
function moreButton<T>(
  label: string,
  first: PageInfo,
  next: (after: string | null) => Promise<Page<T>>,
  row: (node: T) => HTMLElement | null,
  body: HTMLElement,
  say: (error: unknown) => void,
): HTMLButtonElement {
  const more = el('button', { type: 'button', class: 'more' }, label) as HTMLButtonElement;
  let at = first;
  more.hidden = !at.hasNextPage;
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await next(at.endCursor);
      for (const node of page.nodes) {
        const drawn = row(node);
        if (drawn) body.append(drawn);
      }
      at = page.pageInfo;
      more.hidden = !at.hasNextPage;
    } catch (error) {
      say(error);
    }
    more.disabled = false;
  });
  return more;
}

async function runs(workspaceId: string, filter: RunFilter): Promise<void> {
  const variables = {
    id: workspaceId, status: filter.status || null, workflow: filter.workflow || null,
    from: filter.from ? new Date(filter.from).toISOString() : null, to: filter.to ? new Date(filter.to).toISOString() : null,
  };
  const RUNS = `runs(workspaceId: $id, status: $status, workflowId: $workflow, from: $from, to: $to, order: NEWEST_FIRST,
    first: ${filter.page}, after: $after) { nodes { ${RUN_FIELDS} } pageInfo { hasNextPage endCursor } }`;
  const VARIABLES = '$id: ID!, $status: RunStatus, $workflow: ID, $from: DateTime, $to: DateTime, $after: String';
  const data = await query<{ workspace: { name: string } | null; runs: Page<RunRow>;
    workflows: { nodes: { id: string; name: string }[] } }>(
    `query ConsoleRuns(${VARIABLES}) {
       workspace(id: $id) { name }
       workflows(workspaceId: $id, includeArchived: true, first: 100) { nodes { id name } }
       ${RUNS} }`,
    { ...variables, after: null },
  );
  if (!data.workspace) return show(el('h1', {}, 'No such workspace'), el('p', {}, 'Or you are not a member of it.'));
  const body = el('tbody', {}, ...data.runs.nodes.map(runRow));
  const { element: alert, say } = alertBox();
  // The next page starts after the last run shown; a run that arrived live meanwhile is not
  // shown twice.
  const more = moreButton<RunRow>('More runs', data.runs.pageInfo,
    (after) => query<{ runs: Page<RunRow> }>(`query ConsoleMoreRuns(${VARIABLES}) { ${RUNS} }`, { ...variables, after })
      .then((page) => page.runs),
    (run) => (body.querySelector(`[data-run-id="${run.id}"]`) ? null : runRow(run)), body, say);
  more.id = 'more-runs';
  const status = el('select', { id: 'status-filter', 'aria-label': 'Status' },
    ...['', 'REQUESTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED'].map((value) =>
      el('option', { value, ...(value === filter.status ? { selected: true } : {}) }, value || 'any status'),
    ),
  ) as HTMLSelectElement;
  const workflow = el('select', { id: 'workflow-filter', 'aria-label': 'Workflow' },
    el('option', { value: '' }, 'any workflow'),
    ...data.workflows.nodes.map((flow) =>
      el('option', { value: flow.id, ...(flow.id === filter.workflow ? { selected: true } : {}) }, flow.name)),
  ) as HTMLSelectElement;
  const from = el('input', { type: 'date', id: 'from-filter', 'aria-label': 'Requested from', value: filter.from }) as HTMLInputElement;
  const to = el('input', { type: 'date', id: 'to-filter', 'aria-label': 'Requested before', value: filter.to }) as HTMLInputElement;
  const apply = () => {
    const params = new URLSearchParams();
    for (const [name, input] of [['status', status], ['workflow', workflow], ['from', from], ['to', to]] as const) {
      if (input.value) params.set(name, input.value);
    }
    if (filter.page !== 50) params.set('page', String(filter.page));
    location.hash = `#/w/${workspaceId}${params.size ? `?${params}` : ''}`;
  };
  for (const input of [status, workflow, from, to]) input.addEventListener('change', apply);
  show(
    el('h1', {}, data.workspace.name),
    el('nav', { 'aria-label': 'Workspace' }, el('a', { href: `#/w/${workspaceId}/catalog` }, 'Agents, workflows and usage')),
    el('div', { class: 'actions' }, el('label', { for: 'status-filter' }, 'Runs:'), status, workflow,
      el('label', {}, 'from ', from), el('label', {}, 'before ', to)),
    el('div', { class: 'scroll' }, el('table', { id: 'runs' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Run'), el('th', {}, 'Status'), el('th', {}, 'Workflow'),
        el('th', {}, 'Credits / budget'), el('th', {}, 'Requested'), el('th', {}, 'Finished'))),
      body)),
    more,
    alert,
  );
  // New runs come first and changed ones change in place, without a reload.
  subscribe<{ workspaceRunUpdated: { run: RunRow | null } | null }>(
    `subscription ConsoleRunsLive($id: ID!) { workspaceRunUpdated(workspaceId: $id) { run { ${RUN_FIELDS} } } }`,
    { id: workspaceId },
    (data) => {
      const run = data?.workspaceRunUpdated?.run;
      if (!run) return;
      const old = body.querySelector(`[data-run-id="${run.id}"]`);
      if (!kept(run, filter)) return old?.remove();
      const row = runRow(run);
      if (old) old.replaceWith(row);
      else body.prepend(row);
    },
  );
}

interface Agent {
  id: string;
  name: string;
  kind: string;
  version: number;
  retired: boolean;
  price: { perCall: number; per1kInputTokens: number; per1kOutputTokens: number };
}

interface Workflow {
  id: string;
  name: string;
  version: number;
  archived: boolean;
  steps: { id: string; kind: string; dependsOn: string[] }[];
}

const AGENTS = `agents(workspaceId: $id, includeRetired: true, first: 50, after: $after) { nodes { id name kind version
  retired price { perCall per1kInputTokens per1kOutputTokens } } pageInfo { hasNextPage endCursor } }`;
// Twenty a page: a workflow's steps weigh a hundred each in the server's bound on a query.
const WORKFLOWS = `workflows(workspaceId: $id, includeArchived: true, first: 20, after: $after) { nodes { id name version
  archived steps { id kind dependsOn } } pageInfo { hasNextPage endCursor } }`;

interface Catalog {
  workspace: { name: string } | null;
  agents: Page<Agent>;
  workflows: Page<Workflow>;
  usageByDay: { day: string; agentId: string; credits: number }[];
}

/** A table of `rows` under `head`, scrolling on its own on a narrow screen; `empty` when
 * there are no rows and it is given. */
function table(head: string[], rows: HTMLElement[], empty?: string): HTMLElement {
  if (!rows.length && empty) return el('p', {}, empty);
  return el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows)));
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/** A workspace's agents and workflows with their versions and steps, and its usage: credits by
 * day over the last 30 days (a chart), and by agent. */
async function catalog(workspaceId: string): Promise<void> {
  const data = await query<Catalog>(
    `query ConsoleCatalog($id: ID!, $from: NaiveDate!, $to: NaiveDate!, $after: String) { workspace(id: $id) { name }
       ${AGENTS} ${WORKFLOWS} usageByDay(workspaceId: $id, from: $from, to: $to) { day agentId credits } }`,
    { id: workspaceId, from: day(-29), to: day(1), after: null },
  );
  if (!data.workspace) return show(el('h1', {}, 'No such workspace'), el('p', {}, 'Or you are not a member of it.'));
  const names = new Map(data.agents.nodes.map((agent) => [agent.id, agent.name]));
  const byDay = new Map<string, number>();
  const byAgent = new Map<string, number>();
  for (const row of data.usageByDay) {
    byDay.set(row.day, (byDay.get(row.day) ?? 0) + row.credits);
    byAgent.set(row.agentId, (byAgent.get(row.agentId) ?? 0) + row.credits);
  }
  const days = Array.from({ length: 30 }, (_, n) => day(n - 29));
  const most = Math.max(1, ...byDay.values());
  const { element: alert, say } = alertBox();
  const agentRow = (agent: Agent) =>
    el('tr', { 'data-agent-id': agent.id }, el('td', {}, agent.name), el('td', {}, agent.kind), el('td', {}, agent.version),
      el('td', {}, `${agent.price.perCall} / ${agent.price.per1kInputTokens} / ${agent.price.per1kOutputTokens}`),
      el('td', {}, agent.retired ? 'retired' : ''));
  const workflowRow = (flow: Workflow) =>
    el('tr', { 'data-workflow-id': flow.id }, el('td', {}, flow.name), el('td', {}, flow.version),
      el('td', {}, flow.steps.map((step) => step.dependsOn.length ? `${step.id} ← ${step.dependsOn.join(', ')}` : step.id).join('; ')),
      el('td', {}, flow.archived ? 'archived' : ''));
  const agents = table(['Agent', 'Kind', 'Version', 'Price (call / 1k in / 1k out)', ''], data.agents.nodes.map(agentRow));
  const workflows = table(['Workflow', 'Version', 'Steps', ''], data.workflows.nodes.map(workflowRow));
  const next = (list: string) => (after: string | null) =>
    query<Catalog>(`query ConsoleMore($id: ID!, $after: String) { ${list} }`, { id: workspaceId, after });
  show(
    el('p', {}, el('a', { href: `#/w/${workspaceId}` }, `← Runs of ${data.workspace.name}`)),
    el('h1', {}, `${data.workspace.name}: agents, workflows and usage`),
    alert,
    el('h2', {}, 'Credits by day, the last 30 days'),
    el('div', { class: 'bars', role: 'img', 'aria-label': 'Credits used each day' },
      ...days.map((d) => {
        const credits = byDay.get(d) ?? 0;
        const bar = el('div', { title: `${d}: ${credits} credits`, 'data-day': d });
        bar.style.height = `${Math.round((credits / most) * 100)}%`;
        return bar;
      })),
    table(['Agent', 'Credits, 30 days'], Array.from(byAgent, ([agent, credits]) =>
      el('tr', {}, el('td', {}, names.get(agent) ?? agent), el('td', {}, credits)))),
    el('h2', {}, 'Agents'),
    agents,
    moreButton('More agents', data.agents.pageInfo, (after) => next(AGENTS)(after).then((page) => page.agents),
      agentRow, agents.querySelector('tbody')!, say),
    el('h2', {}, 'Workflows'),
    workflows,
    moreButton('More workflows', data.workflows.pageInfo, (after) => next(WORKFLOWS)(after).then((page) => page.workflows),
      workflowRow, workflows.querySelector('tbody')!, say),
  );
}

/** For operators: each projection's lag, every consumer's parked events and the set-aside saga
 * work, with Retry and Skip. */
async function operations(): Promise<void> {
  const [status, letters] = await Promise.all([
    query<{ projections: { name: string; position: number; lag: number; lastError: string | null }[] }>(
      'query ConsoleProjections { projections { name position lag lastError } }'),
    deadLetters(),
  ]);
  if (!letters) return show(el('h1', {}, 'Operations'), el('p', {}, 'For the platform\'s operators only.'));
  const { element: alert, say } = alertBox();
  const done = (what: string) => (answer: Settled) => {
    say(`${what}: ${answer.settled}${answer.error ? ` (${answer.error})` : ''}`);
    setTimeout(route, 1500);
  };
  const parkedRows = letters.parked.map((parked) => {
    const actions = el('td', {});
    const retry = el('button', { type: 'button' }, 'Retry');
    retry.addEventListener('click', () =>
      oxbow.retryParked(parked.consumer as Consumer, parked.position).then(done(`Retry of ${parked.position}`), say));
    actions.append(retry);
    if (parked.error) {
      const reason = el('input', { type: 'text', 'aria-label': `Why position ${parked.position} is given up` }) as HTMLInputElement;
      const skip = el('button', { type: 'button' }, 'Skip');
      skip.addEventListener('click', () =>
        oxbow.skipParked(parked.consumer as Consumer, parked.position, reason.value)
          .then(done(`Skip of ${parked.position}`), say));
      actions.append(' ', reason, ' ', skip);
    }
    return el('tr', { 'data-position': String(parked.position) }, el('td', {}, parked.consumer), el('td', {}, parked.position),
      el('td', {}, parked.stream_id), el('td', {}, parked.event_type), el('td', {}, parked.error ?? 'waits behind'), actions);
  });
  const workRows = letters.set_aside.map((work) => {
    const retry = el('button', { type: 'button' }, 'Retry');
    retry.addEventListener('click', () => oxbow.retrySagaWork(work.id).then(done(`Retry of work ${work.id}`), say));
    return el('tr', { 'data-work-id': String(work.id) }, el('td', {}, work.id), el('td', {}, `${work.saga} ${work.key}`),
      el('td', {}, work.attempts), el('td', {}, work.last_error ?? ''), el('td', {}, retry));
  });
  show(
    el('h1', {}, 'Operations'),
    alert,
    el('h2', {}, 'Projections'),
    table(['Projection', 'Position', 'Lag', 'Last error'], status.projections.map((p) =>
      el('tr', {}, el('td', {}, p.name), el('td', {}, p.position), el('td', {}, p.lag), el('td', {}, p.lastError ?? ''))), 'None.'),
    el('h2', {}, 'Parked events'),
    table(['Consumer', 'Position', 'Stream', 'Type', 'Error', ''], parkedRows, 'None.'),
    el('h2', {}, 'Set-aside saga work'),
    table(['Id', 'Work', 'Tries', 'Last error', ''], workRows, 'None.'),
  );
}

interface Step {
  id: string;
  kind: string;
  agentId: string | null;
  approvers: Role | null;
  dependsOn: string[];
  status: string;
  attempts: number;
  input: Json;
  output: Json;
  error: string | null;
  deadline: string | null;
  retryAt: string | null;
  cost: number;
  artifacts: { name: string; version: number; mediaType: string; size: number; uri: string }[];
}

interface Run extends RunRow {
  input: Json;
  output: Json;
  reason: string | null;
  retryOf: string | null;
  steps: Step[];
}

const RUN_QUERY = `${RUN_FIELDS} input output reason retryOf steps { id kind agentId approvers dependsOn status attempts
  input output error deadline retryAt cost artifacts { name version mediaType size uri } }`;

/** The workflow's DAG, each step a box in the layer of its longest path from a root. */
function dag(steps: Step[]): HTMLElement {
  const layer = new Map<string, number>();
  const depth = (step: Step, seen: Set<string>): number => {
    if (layer.has(step.id)) return layer.get(step.id)!;
    if (seen.has(step.id)) return 0;
    seen.add(step.id);
    const parents = step.dependsOn.map((id) => steps.find((other) => other.id === id)).filter((s): s is Step => !!s);
    const value = parents.length ? Math.max(...parents.map((parent) => depth(parent, seen) + 1)) : 0;
    layer.set(step.id, value);
    return value;
  };
  steps.forEach((step) => depth(step, new Set()));
  const rows = new Map<number, number>();
  const place = new Map<string, { x: number; y: number }>();
  for (const step of steps) {
    const column = layer.get(step.id) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    place.set(step.id, { x: 10 + column * 190, y: 10 + row * 64 });
  }
  const width = 20 + (Math.max(0, ...layer.values()) + 1) * 190;
  const height = 20 + Math.max(1, ...rows.values()) * 64;
  const drawing = svg('svg', { width, height, role: 'group', 'aria-label': 'The run\'s steps and their dependencies' });
  for (const step of steps) {
    const to = place.get(step.id)!;
    for (const parent of step.dependsOn) {
      const from = place.get(parent);
      if (from) drawing.append(svg('line', { x1: from.x + 160, y1: from.y + 22, x2: to.x, y2: to.y + 22 }));
    }
  }
  for (const step of steps) {
    const at = place.get(step.id)!;
    const node = svg(
      'g',
      { 'data-step-id': step.id, 'data-status': step.status, tabindex: 0, role: 'link' },
      svg('rect', { x: at.x, y: at.y, width: 160, height: 44 }),
      svg('text', { x: at.x + 8, y: at.y + 18 }, step.id),
      svg('text', { x: at.x + 8, y: at.y + 35 }, step.status),
    );
    const open = () => document.getElementById(`step-${step.id}`)?.scrollIntoView({ block: 'nearest' });
    node.addEventListener('click', open);
    node.addEventListener('keydown', (event) => (event as KeyboardEvent).key === 'Enter' && open());
    drawing.append(node);
  }
  return el('div', { class: 'dag' }, drawing);
}

function stepDetails(run: Run, step: Step, role: Role | null, refresh: () => void): HTMLElement {
  const section = el(
    'section',
    { id: `step-${step.id}`, 'data-step-id': step.id, 'data-status': step.status },
    el('h3', {}, `${step.id} `, statusOf(step.status)),
    el('p', {}, `${step.kind.toLowerCase()} step · attempts ${step.attempts} · cost ${step.cost}`,
      step.deadline ? ` · deadline ${time(step.deadline)}` : '', step.retryAt ? ` · next retry ${time(step.retryAt)}` : ''),
    step.input != null ? el('details', {}, el('summary', {}, 'Input'), el('pre', {}, json(step.input))) : null,
    step.output != null ? el('div', {}, el('h4', {}, 'Output'), el('pre', { class: 'output' }, json(step.output))) : null,
    step.error ? el('div', {}, el('h4', {}, 'Error'), el('pre', {}, step.error)) : null,
    step.artifacts.length
      ? el('ul', {}, ...step.artifacts.map((artifact) =>
          el('li', {}, `${artifact.name} v${artifact.version} (${artifact.mediaType}, ${artifact.size} bytes) ${artifact.uri}`)))
      : null,
  );
  const mayAnswer = step.kind === 'APPROVAL' && step.status === 'WAITING' && atLeast(role, step.approvers ?? 'MEMBER');
  if (mayAnswer) {
    const { element: alert, say } = alertBox();
    const note = el('input', { type: 'text', 'aria-label': `Comment or reason for ${step.id}` }) as HTMLInputElement;
    const approve = el('button', { type: 'button' }, 'Approve');
    const reject = el('button', { type: 'button' }, 'Reject');
    approve.addEventListener('click', () =>
      command({ type: 'ApproveStep', id: run.id, payload: { step_id: step.id, ...(note.value ? { comment: note.value } : {}) } })
        .then(refresh, say));
    reject.addEventListener('click', () =>
      command({ type: 'RejectStep', id: run.id, payload: { step_id: step.id, reason: note.value } }).then(refresh, say));
    section.append(el('div', { class: 'actions' }, note, approve, reject), alert);
  }
  return section;
}

async function runPage(runId: string): Promise<void> {
  const load = () =>
    query<{ run: Run | null }>(`query ConsoleRun($id: ID!) { run(id: $id) { ${RUN_QUERY} } }`, { id: runId });
  // A run started a moment ago elsewhere may not be in the read models yet.
  let first = await load();
  for (let tries = 0; !first.run && tries < 10; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    first = await load();
  }
  if (!first.run) return show(el('h1', {}, 'No such run'), el('p', {}, 'Or you are not a member of its workspace.'));
  const roleAnswer = await query<{ workspace: { myRole: Role; name: string } | null }>(
    'query ConsoleRole($id: ID!) { workspace(id: $id) { myRole name } }',
    { id: first.run.workspaceId },
  );
  const role = roleAnswer.workspace?.myRole ?? null;
  // The subscription first replays the run's history, each update with the run as it is now:
  // only a run that changed is drawn again, so what the user typed or was told stays.
  let drawn = '';
  const render = (run: Run) => {
    const state = JSON.stringify(run);
    if (state === drawn) return;
    drawn = state;
    const { element: alert, say } = alertBox();
    const actions = el('div', { class: 'actions' });
    const refresh = () => load().then((answer) => answer.run && render(answer.run), say);
    if (atLeast(role, 'MEMBER') && (run.status === 'REQUESTED' || run.status === 'RUNNING')) {
      const cancel = el('button', { type: 'button' }, 'Cancel run');
      cancel.addEventListener('click', () =>
        command({ type: 'CancelRun', id: run.id, payload: { reason: 'cancelled in the console' } }).then(refresh, say));
      actions.append(cancel);
    }
    if (atLeast(role, 'MEMBER') && (run.status === 'FAILED' || run.status === 'CANCELLED')) {
      const budget = el('input', { type: 'number', min: '1', value: String(run.budget), 'aria-label': 'Budget of the retry' }) as HTMLInputElement;
      const retry = el('button', { type: 'button' }, 'Retry');
      retry.addEventListener('click', () => {
        const id = crypto.randomUUID();
        command({ type: 'StartRun', id, payload: {
          workspace_id: run.workspaceId, workflow_id: run.workflowId, workflow_version: run.workflowVersion,
          input: run.input, budget: Number(budget.value), retry_of: run.id,
        } }).then(() => (location.hash = `#/r/${id}`), say);
      });
      actions.append(el('label', {}, 'Budget ', budget), retry);
    }
    show(
      el('p', {}, el('a', { href: `#/w/${run.workspaceId}` }, `← ${roleAnswer.workspace?.name ?? 'Workspace'}`)),
      el('h1', { 'data-run-id': run.id, 'data-status': run.status }, `Run ${run.id.slice(0, 8)} `, statusOf(run.status)),
      el('p', {}, `workflow ${run.workflowId} v${run.workflowVersion} · credits ${run.creditsUsed} of ${run.budget} · `
        + `requested ${time(run.requestedAt)} · finished ${time(run.finishedAt)}`, run.reason ? ` · ${run.reason}` : '',
        run.retryOf ? el('span', {}, ' · retries ', el('a', { href: `#/r/${run.retryOf}` }, run.retryOf.slice(0, 8))) : null),
      actions,
      alert,
      dag(run.steps),
      el('div', { class: 'steps' }, ...run.steps.map((step) => stepDetails(run, step, role, refresh))),
      run.output != null ? el('div', {}, el('h2', {}, 'Output'), el('pre', {}, json(run.output))) : null,
    );
  };
  render(first.run);
  subscribe<{ runUpdated: { run: Run | null } | null }>(
    `subscription ConsoleRunLive($id: ID!) { runUpdated(runId: $id) { run { ${RUN_QUERY} } } }`,
    { id: runId },
    (data) => data?.runUpdated?.run && render(data.runUpdated.run),
  );
}

// ---- Routing: #/ (workspaces), #/w/<id>[?status=…] (its runs), #/w/<id>/catalog (its agents,
// workflows and usage), #/r/<id> (a run), #/ops (operators).

async function route(): Promise<void> {
  unsubscribeAll();
  const signOut = document.getElementById('sign-out') as HTMLButtonElement;
  if (!token()) {
    signOut.hidden = true;
    return signIn();
  }
  signOut.hidden = false;
  const [path, search] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  try {
    if (parts[0] === 'w' && parts[1] && parts[2] === 'catalog') await catalog(parts[1]);
    else if (parts[0] === 'w' && parts[1]) await runs(parts[1], filterOf(search ?? ''));
    else if (parts[0] === 'ops') await operations();
    else if (parts[0] === 'r' && parts[1]) await runPage(parts[1]);
    else await workspaces();
  } catch (error) {
    const { element, say } = alertBox();
    say(error);
    show(el('h1', {}, 'Something was refused'), element);
  }
  main().focus();
}

takeTokenFromAddress();
document.getElementById('sign-out')?.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = '#/';
  route();
});
window.addEventListener('hashchange', route);
route();
