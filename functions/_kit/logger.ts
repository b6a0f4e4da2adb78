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

export function createLogger(level: LogLevel, base: Fields = {}, sink: Sink = (l) => process.stdout.write(l + '\n')): Logger {
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
