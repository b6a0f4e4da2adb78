/** _kit/logger — structured JSON lines on stdout, one object per line. */
import type { LogLevel } from './config.js';
import { bounded } from './json.js';

export type Fields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger whose lines all carry `fields` (e.g. the CloudEvent being handled). */
  child(fields: Fields): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Sink = (line: string) => void;

/**
 * stdout, batched: the lines of one turn of the event loop go out in one write after it. A pipe's
 * writes are synchronous on Linux, and one write per line was an eighth of a busy function's CPU.
 * What is pending when the process exits (normally, on a signal's exit, on a crash) is written then.
 */
export function stdoutSink(out: NodeJS.WritableStream = process.stdout): Sink {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    out.write(text);
  };
  process.once('exit', flush);
  return (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(line + '\n');
  };
}

let shared: Sink | undefined;
const defaultSink: Sink = (line) => (shared ??= stdoutSink())(line);

export function createLogger(level: LogLevel, base: Fields = {}, sink: Sink = defaultSink): Logger {
  const emit = (at: LogLevel, msg: string, fields?: Fields): void => {
    if (RANK[at] < RANK[level]) return;
    // Fields may carry what a sender wrote (deadletter logs whole events): bounded in depth, so a
    // hostile document cannot overflow the stack, and errors as {name, message}.
    const line = { time: new Date().toISOString(), level: at, msg, ...(bounded({ ...base, ...fields }) as Fields) };
    sink(JSON.stringify(line));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, sink),
  };
}
