// Fastify gives every request a child logger bound to its request id. A pino child with our
// redaction rules cost 2–3% of ShowNotebook's CPU (bench/api profile), and most requests log
// nothing: this one is made the first time a request actually logs.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino';

class LazyChildLogger {
  #parent: FastifyBaseLogger;
  #bindings: Bindings;
  #opts: ChildLoggerOptions;
  #real: FastifyBaseLogger | null = null;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#opts = opts;
  }

  get #logger(): FastifyBaseLogger {
    return (this.#real ??= this.#parent.child(this.#bindings, this.#opts));
  }

  get level(): LevelWithSilentOrString {
    return this.#real ? this.#real.level : this.#parent.level;
  }
  set level(level: LevelWithSilentOrString) {
    this.#logger.level = level;
  }

  fatal(...args: unknown[]): void {
    (this.#logger.fatal as (...a: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    (this.#logger.error as (...a: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    (this.#logger.warn as (...a: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    (this.#logger.info as (...a: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    (this.#logger.debug as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    (this.#logger.trace as (...a: unknown[]) => void)(...args);
  }
  silent(): void {}

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger.child(bindings, opts);
  }
}

/** Fastify's childLoggerFactory option. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, opts) as unknown as FastifyBaseLogger;
}
