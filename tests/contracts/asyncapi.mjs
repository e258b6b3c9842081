// Validates an AsyncAPI document as @asyncapi/parser does: `node asyncapi.mjs <document>` prints
// each diagnostic as a JSON line ({"severity", "code", "message", "path"}; severity 0 is an
// error) and exits 1 when there is an error or no document comes out.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const [file] = process.argv.slice(2);
const { document, diagnostics } = await new Parser().parse(readFileSync(file, 'utf8'), { source: file });
for (const { severity, code, message, path } of diagnostics) {
  console.log(JSON.stringify({ severity, code, message, path }));
}
const summary = document && {
  channels: document.channels().all().map((channel) => ({
    id: channel.id(),
    address: channel.address(),
    messages: channel.messages().all().map((message) => message.id()),
  })),
};
console.log(JSON.stringify({ summary }));
process.exit(!document || diagnostics.some((diagnostic) => diagnostic.severity === 0) ? 1 : 0);
