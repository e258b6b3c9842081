// The TypeScript client against a running Oxbow: OXBOW_URL, and OXBOW_TOKEN and
// OXBOW_OTHER_TOKEN, two users' tokens. Run by the test suite (tests/integration/clients.rs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Oxbow, OxbowError, OxbowGraphQLError } from '../dist/index.js';

const baseUrl = process.env.OXBOW_URL;
const oxbow = new Oxbow({ baseUrl, token: process.env.OXBOW_TOKEN });
const stranger = new Oxbow({ baseUrl, token: process.env.OXBOW_OTHER_TOKEN });
after(() => Promise.all([oxbow.close(), stranger.close()]));

test('a command is answered with its position, and a query reads its own write', async () => {
  const id = crypto.randomUUID();
  const accepted = await oxbow.command({ type: 'CreateWorkspace', id, payload: { name: 'Typed' } });
  assert.equal(accepted.version, 1);
  assert.equal(accepted.events[0].type, 'WorkspaceCreated');
  const read = await oxbow.query(
    'query Mine($id: ID!) { workspace(id: $id) { id name } }',
    { id },
    { minPosition: accepted.position },
  );
  assert.deepEqual(read.workspace, { id, name: 'Typed' });
  // Another user sees no such workspace.
  const theirs = await stranger.query('query Theirs($id: ID!) { workspace(id: $id) { id } }', { id }, { minPosition: accepted.position });
  assert.equal(theirs.workspace, null);
});

test('a retry under the same idempotency key appends nothing twice', async () => {
  const id = crypto.randomUUID();
  const idempotencyKey = crypto.randomUUID();
  const first = await oxbow.command({ type: 'CreateWorkspace', id, payload: { name: 'Once' } }, { idempotencyKey });
  const again = await oxbow.command({ type: 'CreateWorkspace', id, payload: { name: 'Once' } }, { idempotencyKey });
  assert.deepEqual(again, first);
});

test('refusals are errors with the problem details and the GraphQL codes', async () => {
  const id = crypto.randomUUID();
  await assert.rejects(
    oxbow.command({ type: 'CreateWorkspace', id, payload: { name: '' } }),
    (error) => error instanceof OxbowError && error.status === 400 && error.code === 'invalid_payload' && error.problem.field === '/payload/name',
  );
  await oxbow.command({ type: 'CreateWorkspace', id, payload: { name: 'Mine' } });
  await assert.rejects(
    stranger.command({ type: 'RenameWorkspace', id, payload: { name: 'Theirs' } }),
    (error) => error instanceof OxbowError && error.status === 403,
  );
  await assert.rejects(
    oxbow.query('{ workspace(id: "not-a-uuid") { id } }'),
    (error) => error instanceof OxbowGraphQLError && error.codes.length > 0,
  );
});

test('a subscription hears of each change', async () => {
  const id = crypto.randomUUID();
  const created = await oxbow.command({ type: 'CreateWorkspace', id, payload: { name: 'Watched' } });
  await oxbow.query('query Ready($id: ID!) { workspace(id: $id) { id } }', { id }, { minPosition: created.position });
  const heard = new Promise((resolve, reject) => {
    const stop = oxbow.subscribe(
      'subscription Activity($id: ID!) { workspaceActivity(workspaceId: $id) { eventType payload } }',
      { id },
      (data) => {
        stop();
        resolve(data.workspaceActivity);
      },
      reject,
    );
  });
  // The subscription is open once the server has taken it; renaming until it hears is simpler
  // than knowing when that is.
  const renames = setInterval(() => {
    oxbow.command({ type: 'RenameWorkspace', id, payload: { name: `Renamed ${Date.now()}` } }).catch(() => {});
  }, 300);
  try {
    const activity = await heard;
    assert.equal(activity.eventType, 'WorkspaceRenamed');
  } finally {
    clearInterval(renames);
  }
});

test('dead letters are for operators only, and a retry of what is not parked is refused', async () => {
  await assert.rejects(
    oxbow.deadLetters(),
    (error) => error instanceof OxbowError && error.status === 403 && error.code === 'operator_only',
  );
  const operator = new Oxbow({ baseUrl, token: process.env.OXBOW_OPERATOR_TOKEN });
  const letters = await operator.deadLetters();
  assert.ok(Array.isArray(letters.parked) && Array.isArray(letters.set_aside));
  await assert.rejects(
    operator.retryParked('catalog', 999_999_999),
    (error) => error instanceof OxbowError && error.status === 404 && error.code === 'not_parked',
  );
  await assert.rejects(
    operator.skipParked('catalog', 999_999_999, ''),
    (error) => error instanceof OxbowError && error.status === 400,
  );
});
