/**
 * Structured, leveled logging: one line per event, either human text
 * (`2026-01-01T00:00:00.000Z info  c2s stream opened peer=127.0.0.1:50412`) or JSON.
 */
import type { LogLevel } from '../config/types.ts';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

/**
 * A writer of warnings that someone else can make happen again and again (a refused stanza, a
 * refused connection): `src/limits/refusals.ts` logs one line per key per `limits.log_interval`.
 */
export interface RefusalLog {
  /**
   * `key`: what one line stands for, such as the rule or limit and the domain or address it
   * refused; `logger`: the one to write with (its fields name the component), by default the writer's own
   */
  warn(key: string, message: string, fields: LogFields, logger?: Logger): void;
}

/** A RefusalLog that writes every refusal, each on a line of its own (where no rate limit is given). */
export function everyRefusal(logger: Logger): RefusalLog {
  return { warn: (_key, message, fields, on = logger) => on.warn(message, fields) };
}

export interface LogSink {
  write(line: string): void;
}

interface LoggerState {
  level: LogLevel;
  format: 'text' | 'json';
  sink: LogSink;
}

export class Logger {
  #state: LoggerState;
  #context: LogFields;

  constructor(state: LoggerState, context: LogFields = {}) {
    this.#state = state;
    this.#context = context;
  }

  /** A logger that adds `fields` to every line and shares this one's level and sink. */
  child(fields: LogFields): Logger {
    return new Logger(this.#state, { ...this.#context, ...fields });
  }

  setLevel(level: LogLevel): void {
    this.#state.level = level;
  }

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.#state.level];
  }

  debug(message: string, fields?: LogFields): void {
    this.#log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#log('error', message, fields);
  }

  #log(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (!this.enabled(level)) return;
    const all = fields ? { ...this.#context, ...fields } : this.#context;
    const time = new Date().toISOString();
    if (this.#state.format === 'json') {
      this.#state.sink.write(JSON.stringify({ time, level, msg: message, ...normalizeFields(all) }) + '\n');
      return;
    }
    let line = `${time} ${level.padEnd(5)} ${message}`;
    for (const [key, value] of Object.entries(all)) {
      if (value === undefined) continue;
      line += ` ${key}=${formatValue(value)}`;
    }
    this.#state.sink.write(line + '\n');
  }
}

function normalizeFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[key] = value instanceof Error ? value.message : value;
  }
  return out;
}

function formatValue(value: unknown): string {
  const text = value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

export function createLogger(options: { level: LogLevel; format: 'text' | 'json'; sink?: LogSink }): Logger {
  return new Logger({ level: options.level, format: options.format, sink: options.sink ?? process.stdout });
}

/** A logger that writes nothing (tests that do not look at logs). */
export function silentLogger(): Logger {
  return new Logger({ level: 'error', format: 'text', sink: { write() {} } });
}

/** A logger that keeps its lines in memory, for tests that assert on logging. */
export function memoryLogger(level: LogLevel = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level, format: 'text', sink: { write: (line) => lines.push(line.trimEnd()) } }), lines };
}
