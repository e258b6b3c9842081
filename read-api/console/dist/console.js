"use strict";
const ROLES = ['VIEWER', 'MEMBER', 'ADMIN', 'OWNER'];
const atLeast = (role, least) => role != null && ROLES.indexOf(role) >= ROLES.indexOf(least);
const TOKEN_KEY = 'oxbow.token';
function takeTokenFromAddress() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
        sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
        history.replaceState(null, '', location.pathname + location.search + '#/');
    }
}
const token = () => sessionStorage.getItem(TOKEN_KEY);
class Refused extends Error {
}
let lastPosition = 0;
async function query(document, variables = {}) {
    const headers = {
        authorization: `Bearer ${token()}`,
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
    };
    if (lastPosition > 0)
        headers['x-oxbow-min-position'] = String(lastPosition);
    const response = await fetch('/graphql', {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: document, variables }),
    });
    const answer = (await response.json());
    if (answer.errors?.length)
        throw new Refused(answer.errors.map((error) => error.message).join('; '));
    return answer.data;
}
async function command(type, id, payload) {
    const response = await fetch('/v1/commands', {
        method: 'POST',
        headers: {
            authorization: `Bearer ${token()}`,
            'content-type': 'application/json',
            'idempotency-key': crypto.randomUUID(),
        },
        body: JSON.stringify({ type, id, payload }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok)
        throw new Refused(body.detail ?? `HTTP ${response.status}`);
    lastPosition = Math.max(lastPosition, body.position ?? 0);
    return body;
}
async function deadLetters() {
    const response = await fetch('/v1/operations/dead-letters', { headers: { authorization: `Bearer ${token()}` } });
    if (response.status === 403)
        return null;
    const body = await response.json().catch(() => ({}));
    if (!response.ok)
        throw new Refused(body.detail ?? `HTTP ${response.status}`);
    return body;
}
async function operate(path, body) {
    const response = await fetch(`/v1/operations/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok)
        throw new Refused(answer.detail ?? `HTTP ${response.status}`);
    return answer;
}
class Live {
    #socket = null;
    #ready = null;
    #next = 0;
    #sinks = new Map();
    #open() {
        this.#ready ??= new Promise((resolve, reject) => {
            const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql/ws`;
            const socket = new WebSocket(url, 'graphql-transport-ws');
            socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token()}` } }));
            socket.onmessage = (event) => {
                const message = JSON.parse(event.data);
                if (message.type === 'connection_ack')
                    resolve(socket);
                else if (message.type === 'ping')
                    socket.send(JSON.stringify({ type: 'pong' }));
                else if (message.type === 'next')
                    this.#sinks.get(message.id)?.(message.payload?.data);
                else if (message.type === 'error') {
                    this.#sinks.delete(message.id);
                    console.error(`a live update was refused: ${JSON.stringify(message.payload)}`);
                }
            };
            socket.onclose = () => {
                this.#socket = null;
                this.#ready = null;
                reject(new Error('the live connection closed'));
            };
            this.#socket = socket;
        });
        return this.#ready;
    }
    async subscribe(document, variables, sink) {
        const socket = await this.#open();
        const id = String(++this.#next);
        this.#sinks.set(id, sink);
        socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: document, variables } }));
        return () => {
            this.#sinks.delete(id);
            if (this.#socket?.readyState === WebSocket.OPEN)
                this.#socket.send(JSON.stringify({ id, type: 'complete' }));
        };
    }
    stopAll() {
        for (const id of this.#sinks.keys())
            this.#socket?.send(JSON.stringify({ id, type: 'complete' }));
        this.#sinks.clear();
    }
}
const live = new Live();
function el(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
        if (value === true)
            element.setAttribute(name, '');
        else if (value !== false)
            element.setAttribute(name, value);
    }
    for (const child of children) {
        if (child === null || child === undefined || child === false)
            continue;
        element.append(child instanceof Node ? child : String(child));
    }
    return element;
}
function svg(tag, attributes = {}, ...children) {
    const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [name, value] of Object.entries(attributes))
        element.setAttribute(name, String(value));
    for (const child of children)
        if (child)
            element.append(child instanceof Node ? child : String(child));
    return element;
}
const main = () => document.getElementById('main');
function show(...children) {
    const shown = children.filter((child) => child !== null && child !== undefined && child !== false);
    main().replaceChildren(...shown.map((child) => (typeof child === 'number' ? String(child) : child)));
}
const json = (value) => JSON.stringify(value, null, 2);
const time = (value) => (value ? new Date(value).toLocaleString() : '—');
const statusOf = (status) => el('span', { class: `status status-${status}` }, status);
function alertBox() {
    const element = el('p', { role: 'alert' });
    return { element, say: (error) => (element.textContent = error instanceof Error ? error.message : String(error)) };
}
function signIn() {
    const input = el('textarea', { id: 'token', rows: '4', required: true, 'aria-label': 'Token' });
    const form = el('form', { class: 'sign-in' }, el('h1', {}, 'Sign in'), el('label', { for: 'token' }, 'Your token (a JWT); it is kept in this tab only'), input, el('button', { type: 'submit' }, 'Sign in'));
    form.addEventListener('submit', (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        route();
    });
    show(form);
}
async function workspaces() {
    const data = await query(`query ConsoleWorkspaces { workspaces(first: 100) { nodes { id name myRole
       runCounts { requested running succeeded failed cancelled rejected } } } }`);
    const rows = await Promise.all(data.workspaces.nodes.map(async (workspace) => {
        const billing = await query('query ConsoleBilling($id: ID!) { billingAccount(workspaceId: $id) { balance reserved available } }', { id: workspace.id }).catch(() => ({ billingAccount: null }));
        const account = billing.billingAccount;
        const counts = Object.entries(workspace.runCounts)
            .filter(([, count]) => count > 0)
            .map(([status, count]) => `${status} ${count}`)
            .join(', ');
        return el('tr', { 'data-workspace-id': workspace.id }, el('td', {}, el('a', { href: `#/w/${workspace.id}` }, workspace.name)), el('td', {}, workspace.myRole), el('td', {}, counts || 'no runs'), el('td', {}, account ? `${account.balance} / ${account.reserved} / ${account.available}` : '—'));
    }));
    show(el('h1', {}, 'Workspaces'), rows.length
        ? el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Workspace'), el('th', {}, 'Your role'), el('th', {}, 'Runs'), el('th', {}, 'Balance / reserved / available'))), el('tbody', {}, ...rows)))
        : el('p', {}, 'You are a member of no workspace.'));
}
const RUN_FIELDS = 'id workspaceId workflowId workflowVersion status budget creditsUsed requestedAt finishedAt';
function runRow(run) {
    return el('tr', { 'data-run-id': run.id, 'data-status': run.status }, el('td', {}, el('a', { href: `#/r/${run.id}` }, run.id.slice(0, 8))), el('td', {}, statusOf(run.status)), el('td', {}, `${run.workflowId.slice(0, 8)} v${run.workflowVersion}`), el('td', {}, `${run.creditsUsed} / ${run.budget}`), el('td', {}, time(run.requestedAt)), el('td', {}, time(run.finishedAt)));
}
const filterOf = (search) => {
    const params = new URLSearchParams(search);
    return { status: params.get('status') ?? '', workflow: params.get('workflow') ?? '', from: params.get('from') ?? '', to: params.get('to') ?? '' };
};
const kept = (run, filter) => (!filter.status || run.status === filter.status) && (!filter.workflow || run.workflowId === filter.workflow)
    && (!filter.from || run.requestedAt >= new Date(filter.from).toISOString())
    && (!filter.to || run.requestedAt < new Date(filter.to).toISOString());
async function runs(workspaceId, filter) {
    const data = await query(`query ConsoleRuns($id: ID!, $status: RunStatus, $workflow: ID, $from: DateTime, $to: DateTime) {
       workspace(id: $id) { name }
       workflows(workspaceId: $id, includeArchived: true, first: 100) { nodes { id name } }
       runs(workspaceId: $id, status: $status, workflowId: $workflow, from: $from, to: $to, order: NEWEST_FIRST,
            first: 100) { nodes { ${RUN_FIELDS} } } }`, {
        id: workspaceId, status: filter.status || null, workflow: filter.workflow || null,
        from: filter.from ? new Date(filter.from).toISOString() : null, to: filter.to ? new Date(filter.to).toISOString() : null,
    });
    if (!data.workspace)
        return show(el('h1', {}, 'No such workspace'), el('p', {}, 'Or you are not a member of it.'));
    const body = el('tbody', {}, ...data.runs.nodes.map(runRow));
    const status = el('select', { id: 'status-filter', 'aria-label': 'Status' }, ...['', 'REQUESTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED'].map((value) => el('option', { value, ...(value === filter.status ? { selected: true } : {}) }, value || 'any status')));
    const workflow = el('select', { id: 'workflow-filter', 'aria-label': 'Workflow' }, el('option', { value: '' }, 'any workflow'), ...data.workflows.nodes.map((flow) => el('option', { value: flow.id, ...(flow.id === filter.workflow ? { selected: true } : {}) }, flow.name)));
    const from = el('input', { type: 'date', id: 'from-filter', 'aria-label': 'Requested from', value: filter.from });
    const to = el('input', { type: 'date', id: 'to-filter', 'aria-label': 'Requested before', value: filter.to });
    const apply = () => {
        const params = new URLSearchParams();
        for (const [name, input] of [['status', status], ['workflow', workflow], ['from', from], ['to', to]]) {
            if (input.value)
                params.set(name, input.value);
        }
        location.hash = `#/w/${workspaceId}${params.size ? `?${params}` : ''}`;
    };
    for (const input of [status, workflow, from, to])
        input.addEventListener('change', apply);
    show(el('h1', {}, data.workspace.name), el('nav', { 'aria-label': 'Workspace' }, el('a', { href: `#/w/${workspaceId}/catalog` }, 'Agents, workflows and usage')), el('div', { class: 'actions' }, el('label', { for: 'status-filter' }, 'Runs:'), status, workflow, el('label', {}, 'from ', from), el('label', {}, 'before ', to)), el('div', { class: 'scroll' }, el('table', { id: 'runs' }, el('thead', {}, el('tr', {}, el('th', {}, 'Run'), el('th', {}, 'Status'), el('th', {}, 'Workflow'), el('th', {}, 'Credits / budget'), el('th', {}, 'Requested'), el('th', {}, 'Finished'))), body)));
    await live.subscribe(`subscription ConsoleRunsLive($id: ID!) { workspaceRunUpdated(workspaceId: $id) { run { ${RUN_FIELDS} } } }`, { id: workspaceId }, (data) => {
        const run = data?.workspaceRunUpdated?.run;
        if (!run)
            return;
        const old = body.querySelector(`[data-run-id="${run.id}"]`);
        if (!kept(run, filter))
            return old?.remove();
        const row = runRow(run);
        if (old)
            old.replaceWith(row);
        else
            body.prepend(row);
    });
}
function table(head, rows, empty) {
    if (!rows.length && empty)
        return el('p', {}, empty);
    return el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))), el('tbody', {}, ...rows)));
}
const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
async function catalog(workspaceId) {
    const data = await query(`query ConsoleCatalog($id: ID!, $from: NaiveDate!, $to: NaiveDate!) { workspace(id: $id) { name }
       agents(workspaceId: $id, includeRetired: true, first: 50) { nodes { id name kind version retired
         price { perCall per1kInputTokens per1kOutputTokens } } }
       workflows(workspaceId: $id, includeArchived: true, first: 20) { nodes { id name version archived
         steps { id kind dependsOn } } }
       usageByDay(workspaceId: $id, from: $from, to: $to) { day agentId credits } }`, { id: workspaceId, from: day(-29), to: day(1) });
    if (!data.workspace)
        return show(el('h1', {}, 'No such workspace'), el('p', {}, 'Or you are not a member of it.'));
    const names = new Map(data.agents.nodes.map((agent) => [agent.id, agent.name]));
    const byDay = new Map();
    const byAgent = new Map();
    for (const row of data.usageByDay) {
        byDay.set(row.day, (byDay.get(row.day) ?? 0) + row.credits);
        byAgent.set(row.agentId, (byAgent.get(row.agentId) ?? 0) + row.credits);
    }
    const days = Array.from({ length: 30 }, (_, n) => day(n - 29));
    const most = Math.max(1, ...byDay.values());
    show(el('p', {}, el('a', { href: `#/w/${workspaceId}` }, `← Runs of ${data.workspace.name}`)), el('h1', {}, `${data.workspace.name}: agents, workflows and usage`), el('h2', {}, 'Credits by day, the last 30 days'), el('div', { class: 'bars', role: 'img', 'aria-label': 'Credits used each day' }, ...days.map((d) => {
        const credits = byDay.get(d) ?? 0;
        const bar = el('div', { title: `${d}: ${credits} credits`, 'data-day': d });
        bar.style.height = `${Math.round((credits / most) * 100)}%`;
        return bar;
    })), table(['Agent', 'Credits, 30 days'], Array.from(byAgent, ([agent, credits]) => el('tr', {}, el('td', {}, names.get(agent) ?? agent), el('td', {}, credits)))), el('h2', {}, 'Agents'), table(['Agent', 'Kind', 'Version', 'Price (call / 1k in / 1k out)', ''], data.agents.nodes.map((agent) => el('tr', { 'data-agent-id': agent.id }, el('td', {}, agent.name), el('td', {}, agent.kind), el('td', {}, agent.version), el('td', {}, `${agent.price.perCall} / ${agent.price.per1kInputTokens} / ${agent.price.per1kOutputTokens}`), el('td', {}, agent.retired ? 'retired' : '')))), el('h2', {}, 'Workflows'), table(['Workflow', 'Version', 'Steps', ''], data.workflows.nodes.map((flow) => el('tr', { 'data-workflow-id': flow.id }, el('td', {}, flow.name), el('td', {}, flow.version), el('td', {}, flow.steps.map((step) => step.dependsOn.length ? `${step.id} ← ${step.dependsOn.join(', ')}` : step.id).join('; ')), el('td', {}, flow.archived ? 'archived' : '')))));
}
async function operations() {
    const [status, letters] = await Promise.all([
        query('query ConsoleProjections { projections { name position lag lastError } }'),
        deadLetters(),
    ]);
    if (!letters)
        return show(el('h1', {}, 'Operations'), el('p', {}, 'For the platform\'s operators only.'));
    const { element: alert, say } = alertBox();
    const done = (what) => (answer) => {
        say(`${what}: ${answer.settled}${answer.error ? ` (${answer.error})` : ''}`);
        setTimeout(route, 1500);
    };
    const parkedRows = letters.parked.map((parked) => {
        const actions = el('td', {});
        const retry = el('button', { type: 'button' }, 'Retry');
        retry.addEventListener('click', () => operate('parked/retry', { consumer: parked.consumer, position: parked.position }).then(done(`Retry of ${parked.position}`), say));
        actions.append(retry);
        if (parked.error) {
            const reason = el('input', { type: 'text', 'aria-label': `Why position ${parked.position} is given up` });
            const skip = el('button', { type: 'button' }, 'Skip');
            skip.addEventListener('click', () => operate('parked/skip', { consumer: parked.consumer, position: parked.position, reason: reason.value })
                .then(done(`Skip of ${parked.position}`), say));
            actions.append(' ', reason, ' ', skip);
        }
        return el('tr', { 'data-position': String(parked.position) }, el('td', {}, parked.consumer), el('td', {}, parked.position), el('td', {}, parked.stream_id), el('td', {}, parked.event_type), el('td', {}, parked.error ?? 'waits behind'), actions);
    });
    const workRows = letters.set_aside.map((work) => {
        const retry = el('button', { type: 'button' }, 'Retry');
        retry.addEventListener('click', () => operate('saga-work/retry', { id: work.id }).then(done(`Retry of work ${work.id}`), say));
        return el('tr', { 'data-work-id': String(work.id) }, el('td', {}, work.id), el('td', {}, `${work.saga} ${work.key}`), el('td', {}, work.attempts), el('td', {}, work.last_error ?? ''), el('td', {}, retry));
    });
    show(el('h1', {}, 'Operations'), alert, el('h2', {}, 'Projections'), table(['Projection', 'Position', 'Lag', 'Last error'], status.projections.map((p) => el('tr', {}, el('td', {}, p.name), el('td', {}, p.position), el('td', {}, p.lag), el('td', {}, p.lastError ?? ''))), 'None.'), el('h2', {}, 'Parked events'), table(['Consumer', 'Position', 'Stream', 'Type', 'Error', ''], parkedRows, 'None.'), el('h2', {}, 'Set-aside saga work'), table(['Id', 'Work', 'Tries', 'Last error', ''], workRows, 'None.'));
}
const RUN_QUERY = `${RUN_FIELDS} input output reason retryOf steps { id kind agentId approvers dependsOn status attempts
  input output error deadline retryAt cost artifacts { name version mediaType size uri } }`;
function dag(steps) {
    const layer = new Map();
    const depth = (step, seen) => {
        if (layer.has(step.id))
            return layer.get(step.id);
        if (seen.has(step.id))
            return 0;
        seen.add(step.id);
        const parents = step.dependsOn.map((id) => steps.find((other) => other.id === id)).filter((s) => !!s);
        const value = parents.length ? Math.max(...parents.map((parent) => depth(parent, seen) + 1)) : 0;
        layer.set(step.id, value);
        return value;
    };
    steps.forEach((step) => depth(step, new Set()));
    const rows = new Map();
    const place = new Map();
    for (const step of steps) {
        const column = layer.get(step.id) ?? 0;
        const row = rows.get(column) ?? 0;
        rows.set(column, row + 1);
        place.set(step.id, { x: 10 + column * 190, y: 10 + row * 64 });
    }
    const width = 20 + (Math.max(0, ...layer.values()) + 1) * 190;
    const height = 20 + Math.max(1, ...rows.values()) * 64;
    const drawing = svg('svg', { width, height, role: 'img', 'aria-label': 'The run\'s steps and their dependencies' });
    for (const step of steps) {
        const to = place.get(step.id);
        for (const parent of step.dependsOn) {
            const from = place.get(parent);
            if (from)
                drawing.append(svg('line', { x1: from.x + 160, y1: from.y + 22, x2: to.x, y2: to.y + 22 }));
        }
    }
    for (const step of steps) {
        const at = place.get(step.id);
        const node = svg('g', { 'data-step-id': step.id, 'data-status': step.status, tabindex: 0, role: 'link' }, svg('rect', { x: at.x, y: at.y, width: 160, height: 44 }), svg('text', { x: at.x + 8, y: at.y + 18 }, step.id), svg('text', { x: at.x + 8, y: at.y + 35 }, step.status));
        const open = () => document.getElementById(`step-${step.id}`)?.scrollIntoView({ block: 'nearest' });
        node.addEventListener('click', open);
        node.addEventListener('keydown', (event) => event.key === 'Enter' && open());
        drawing.append(node);
    }
    return el('div', { class: 'dag' }, drawing);
}
function stepDetails(run, step, role, refresh) {
    const section = el('section', { id: `step-${step.id}`, 'data-step-id': step.id, 'data-status': step.status }, el('h3', {}, `${step.id} `, statusOf(step.status)), el('p', {}, `${step.kind.toLowerCase()} step · attempts ${step.attempts} · cost ${step.cost}`, step.deadline ? ` · deadline ${time(step.deadline)}` : '', step.retryAt ? ` · next retry ${time(step.retryAt)}` : ''), step.input != null ? el('details', {}, el('summary', {}, 'Input'), el('pre', {}, json(step.input))) : null, step.output != null ? el('div', {}, el('h4', {}, 'Output'), el('pre', { class: 'output' }, json(step.output))) : null, step.error ? el('div', {}, el('h4', {}, 'Error'), el('pre', {}, step.error)) : null, step.artifacts.length
        ? el('ul', {}, ...step.artifacts.map((artifact) => el('li', {}, `${artifact.name} v${artifact.version} (${artifact.mediaType}, ${artifact.size} bytes) ${artifact.uri}`)))
        : null);
    const mayAnswer = step.kind === 'APPROVAL' && step.status === 'WAITING' && atLeast(role, step.approvers ?? 'MEMBER');
    if (mayAnswer) {
        const { element: alert, say } = alertBox();
        const note = el('input', { type: 'text', 'aria-label': `Comment or reason for ${step.id}` });
        const approve = el('button', { type: 'button' }, 'Approve');
        const reject = el('button', { type: 'button' }, 'Reject');
        approve.addEventListener('click', () => command('ApproveStep', run.id, { step_id: step.id, ...(note.value ? { comment: note.value } : {}) })
            .then(refresh, say));
        reject.addEventListener('click', () => command('RejectStep', run.id, { step_id: step.id, reason: note.value }).then(refresh, say));
        section.append(el('div', { class: 'actions' }, note, approve, reject), alert);
    }
    return section;
}
async function runPage(runId) {
    const load = () => query(`query ConsoleRun($id: ID!) { run(id: $id) { ${RUN_QUERY} } }`, { id: runId });
    let first = await load();
    for (let tries = 0; !first.run && tries < 10; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        first = await load();
    }
    if (!first.run)
        return show(el('h1', {}, 'No such run'), el('p', {}, 'Or you are not a member of its workspace.'));
    const roleAnswer = await query('query ConsoleRole($id: ID!) { workspace(id: $id) { myRole name } }', { id: first.run.workspaceId });
    const role = roleAnswer.workspace?.myRole ?? null;
    let drawn = '';
    const render = (run) => {
        const state = JSON.stringify(run);
        if (state === drawn)
            return;
        drawn = state;
        const { element: alert, say } = alertBox();
        const actions = el('div', { class: 'actions' });
        const refresh = () => load().then((answer) => answer.run && render(answer.run), say);
        if (atLeast(role, 'MEMBER') && (run.status === 'REQUESTED' || run.status === 'RUNNING')) {
            const cancel = el('button', { type: 'button' }, 'Cancel run');
            cancel.addEventListener('click', () => command('CancelRun', run.id, { reason: 'cancelled in the console' }).then(refresh, say));
            actions.append(cancel);
        }
        if (atLeast(role, 'MEMBER') && (run.status === 'FAILED' || run.status === 'CANCELLED')) {
            const budget = el('input', { type: 'number', min: '1', value: String(run.budget), 'aria-label': 'Budget of the retry' });
            const retry = el('button', { type: 'button' }, 'Retry');
            retry.addEventListener('click', () => {
                const id = crypto.randomUUID();
                command('StartRun', id, {
                    workspace_id: run.workspaceId, workflow_id: run.workflowId, workflow_version: run.workflowVersion,
                    input: run.input, budget: Number(budget.value), retry_of: run.id,
                }).then(() => (location.hash = `#/r/${id}`), say);
            });
            actions.append(el('label', {}, 'Budget ', budget), retry);
        }
        show(el('p', {}, el('a', { href: `#/w/${run.workspaceId}` }, `← ${roleAnswer.workspace?.name ?? 'Workspace'}`)), el('h1', { 'data-run-id': run.id, 'data-status': run.status }, `Run ${run.id.slice(0, 8)} `, statusOf(run.status)), el('p', {}, `workflow ${run.workflowId} v${run.workflowVersion} · credits ${run.creditsUsed} of ${run.budget} · `
            + `requested ${time(run.requestedAt)} · finished ${time(run.finishedAt)}`, run.reason ? ` · ${run.reason}` : '', run.retryOf ? el('span', {}, ' · retries ', el('a', { href: `#/r/${run.retryOf}` }, run.retryOf.slice(0, 8))) : null), actions, alert, dag(run.steps), el('div', { class: 'steps' }, ...run.steps.map((step) => stepDetails(run, step, role, refresh))), run.output != null ? el('div', {}, el('h2', {}, 'Output'), el('pre', {}, json(run.output))) : null);
    };
    render(first.run);
    await live.subscribe(`subscription ConsoleRunLive($id: ID!) { runUpdated(runId: $id) { run { ${RUN_QUERY} } } }`, { id: runId }, (data) => data?.runUpdated?.run && render(data.runUpdated.run));
}
async function route() {
    live.stopAll();
    const signOut = document.getElementById('sign-out');
    if (!token()) {
        signOut.hidden = true;
        return signIn();
    }
    signOut.hidden = false;
    const [path, search] = location.hash.replace(/^#/, '').split('?');
    const parts = path.split('/').filter(Boolean);
    try {
        if (parts[0] === 'w' && parts[1] && parts[2] === 'catalog')
            await catalog(parts[1]);
        else if (parts[0] === 'w' && parts[1])
            await runs(parts[1], filterOf(search ?? ''));
        else if (parts[0] === 'ops')
            await operations();
        else if (parts[0] === 'r' && parts[1])
            await runPage(parts[1]);
        else
            await workspaces();
    }
    catch (error) {
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
