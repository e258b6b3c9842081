// Compares a GraphQL schema with the one last released, as @graphql-inspector/core does:
// `node breaking.mjs <released SDL> <current SDL>` prints each change as a JSON line
// ({"level", "type", "message", "path"}) and exits 1 when any of them breaks a client.
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { CriticalityLevel, diff } from '@graphql-inspector/core';

const [released, current] = process.argv.slice(2).map((file) => buildSchema(readFileSync(file, 'utf8')));
const changes = await diff(released, current);
for (const change of changes) {
  const { criticality, type, message, path } = change;
  console.log(JSON.stringify({ level: criticality.level, type, message, path: path ?? null }));
}
process.exit(changes.some((change) => change.criticality.level === CriticalityLevel.Breaking) ? 1 : 0);
