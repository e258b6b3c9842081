// Asks an Oxbow read API what its schema is, as schema tools do: graphql-js's own
// getIntrospectionQuery(), then buildClientSchema() over the answer, which throws on anything
// incomplete. `node introspect.mjs <graphql url> [bearer token]` prints
// {"errors", "sdl"}: the server's errors, or the schema it described, printed.
import { buildClientSchema, getIntrospectionQuery, printSchema } from 'graphql';

const [url, token] = process.argv.slice(2);
const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
if (token) headers.authorization = `Bearer ${token}`;
const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: getIntrospectionQuery() }) });
const answer = await response.json();
const sdl = answer.data ? printSchema(buildClientSchema(answer.data)) : null;
console.log(JSON.stringify({ errors: answer.errors ?? null, sdl }));
