/**
 * scripts/start — `npm start`: Reflex with no cluster. Replays a recorded incident through the
 * real classify function, as the ApiServerSource would deliver it, and prints the timeline.
 * Nothing touches a cluster. (The live development mesh is `reflex dev`, issue 9.)
 */
import { join } from 'node:path';
import { projectRoot } from '../functions/_kit/schemas.js';
import { readRecording, replay, type Row } from '../functions/_mesh/replay.js';

const file = process.argv[2] ?? join(projectRoot(), 'examples', 'incident', 'checkout.ndjson');
const tty = process.stdout.isTTY;
const paint = (code: string, s: string): string => (tty ? `\u001b[${code}m${s}\u001b[0m` : s);
const SEVERITY: Record<string, string> = { critical: '31;1', warning: '33', info: '36' };

function what(r: Row): string {
  const o = r.object as {
    kind: string;
    metadata: { name: string; namespace?: string };
    reason?: string;
    type?: string;
    count?: number;
    series?: { count?: number };
  };
  if (o.kind === 'Event') {
    const inv =
      (o as unknown as { involvedObject?: { kind: string; name: string }; regarding?: { kind: string; name: string } }).involvedObject ??
      (o as unknown as { regarding?: { kind: string; name: string } }).regarding;
    const n = o.count ?? o.series?.count ?? 1;
    return `${o.reason ?? ''}${n > 1 ? ` x${n}` : ''} (${o.type ?? ''}) on ${inv?.kind ?? '?'} ${inv?.name ?? '?'}`;
  }
  return `${o.kind} ${o.metadata.name} ${r.watch === 'MODIFIED' ? 'changed' : r.watch.toLowerCase()}`;
}

const rulesFile = process.env['REFLEX_RULES_FILE'];
let rows: Row[];
try {
  rows = await replay(readRecording(file), rulesFile ? { rulesFile } : {});
} catch (err) {
  // A bad rules file or recording is the user's to fix: say what and where, no stack.
  process.stderr.write(`reflex: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.stdout.write(`\nReflex: replaying ${file}\n(no cluster is contacted; classify runs for real, targets are inferred from names)\n\n`);
for (const r of rows) {
  const time = r.at.toISOString().slice(11, 19);
  const left = `${time}  ${what(r)}`;
  if (r.signal) {
    const sev = paint(SEVERITY[r.signal.severity] ?? '0', r.signal.severity.toUpperCase());
    process.stdout.write(`${left}\n          -> ${paint('1', r.signal.type)} ${sev} on ${r.signal.subject}\n`);
  } else {
    process.stdout.write(paint('2', `${left}\n          -> no signal: ${r.why ?? ''}`) + '\n');
  }
}
const signals = rows.filter((r) => r.signal);
process.stdout.write(
  `\n${rows.length} events in, ${signals.length} signals out. In a cluster each signal goes back to the Broker, and Triggers route it by\n` +
    `its extensions (reflexclass, severity, targetkind, targetns, targetname) to the functions that act: see knative/ and docs/events.md.\n`,
);
