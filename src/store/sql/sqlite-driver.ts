// A Kysely driver for one SQLite file with two connections and group commit.
//
// - Reads that are not part of a transaction run on a second, read-only connection: WAL lets them
//   see the last committed state without waiting for writers, and never an uncommitted one.
// - Writers take turns on the write connection. Each transaction (and each lone write statement)
//   runs inside a SAVEPOINT of a shared outer transaction, and the outer transaction commits once
//   for every writer that joined it: the first writer opens it, and a COMMIT queued behind the
//   writers already waiting closes it. A writer's failure rolls back its own savepoint only; its
//   neighbours are unaffected. Every writer's promise settles only after the COMMIT that made its
//   write durable (or rejects if that COMMIT failed), so nothing is acknowledged before it is on
//   disk as far as the synchronous setting promises (WAL + NORMAL: it survives a crash of the
//   process; the last commits may be lost on power loss).
//
// bench/api measured a commit (the WAL write) at ~50 µs against ~5 µs per statement: one commit
// per request was most of the cost of RenewLease.
import type SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

/** A connection's compiled statements by SQL text (Kysely prepares every query anew otherwise). */
export function statementCache(database: SQLite.Database) {
  const statements = new Map<string, SQLite.Statement>();
  return (text: string): SQLite.Statement => {
    let statement = statements.get(text);
    if (!statement) {
      if (statements.size >= 512) statements.clear();
      statement = database.prepare(text);
      statements.set(text, statement);
    }
    return statement;
  };
}

function run(statement: SQLite.Statement, parameters: readonly unknown[]): QueryResult<unknown> {
  if (statement.reader) return { rows: statement.all(parameters) };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

export interface GroupCommitOptions {
  writer: SQLite.Database;
  /** The read connection; null (an in-memory database) reads on the writer. */
  reader: SQLite.Database | null;
  /** At most this many writers share one commit. */
  maxGroup?: number;
}

/** Grouped commits on the write connection: turns, the shared outer transaction, and its COMMIT. */
class WriteGroups {
  readonly prepareWrite: (text: string) => SQLite.Statement;
  readonly prepareRead: (text: string) => SQLite.Statement;
  readonly #writer: SQLite.Database;
  readonly #maxGroup: number;
  #turn: Promise<void> = Promise.resolve();
  #group: { members: number; committed: Promise<void>; settle: (error?: unknown) => void } | null = null;

  constructor(opts: GroupCommitOptions) {
    this.#writer = opts.writer;
    this.#maxGroup = opts.maxGroup ?? 256;
    this.prepareWrite = statementCache(opts.writer);
    this.prepareRead = opts.reader ? statementCache(opts.reader) : this.prepareWrite;
  }

  /** Resolves with the function that gives the turn back, once every earlier writer gave theirs. */
  takeTurn(): Promise<() => void> {
    let give!: () => void;
    const mine = new Promise<void>((resolve) => (give = resolve));
    const previous = this.#turn;
    this.#turn = mine;
    return previous.then(() => give);
  }

  exec(text: string): void {
    this.prepareWrite(text).run();
  }

  /** Called holding the turn: joins the open group (or opens one) and starts the writer's savepoint. */
  begin(): Promise<void> {
    if (!this.#group || this.#group.members >= this.#maxGroup) {
      if (this.#group) this.#closeNow();
      this.exec('begin immediate');
      let settle!: (error?: unknown) => void;
      const committed = new Promise<void>((resolve, reject) => (settle = (error) => (error === undefined ? resolve() : reject(error))));
      committed.catch(() => {}); // members await it; an unobserved failure is not an unhandled rejection
      const group = { members: 0, committed, settle };
      this.#group = group;
      // The COMMIT waits for the rest of this turn of the event loop (requests that arrived
      // together) and then for the writers already queued for a turn: they all join this group.
      setImmediate(() =>
        void this.takeTurn().then((give) => {
          if (this.#group === group) this.#closeNow();
          give();
        }),
      );
    }
    this.#group.members++;
    this.exec('savepoint nbd_write');
    return this.#group.committed;
  }

  /** The writer's savepoint becomes part of the group; its commit is the group's. */
  release(): void {
    this.exec('release nbd_write');
  }

  /** Undoes the writer's own statements only. */
  rollback(): void {
    if (!this.#writer.inTransaction) {
      // SQLite rolled the whole transaction back itself (e.g. SQLITE_FULL): the group is lost.
      this.#fail(new Error('the SQLite transaction was rolled back'));
      return;
    }
    this.exec('rollback to nbd_write');
    this.exec('release nbd_write');
  }

  /** Called holding the turn: commits the open group, if any. */
  flush(): void {
    if (this.#group) this.#closeNow();
  }

  #closeNow(): void {
    const group = this.#group!;
    this.#group = null;
    try {
      this.exec('commit');
      group.settle();
    } catch (error) {
      try {
        if (this.#writer.inTransaction) this.exec('rollback');
      } catch {
        // The connection is unusable; the members learn it from the COMMIT's error.
      }
      group.settle(error);
    }
  }

  #fail(error: unknown): void {
    const group = this.#group;
    this.#group = null;
    group?.settle(error);
  }
}

/** What Kysely gets from acquireConnection: reads go to the reader, writes take a turn. */
class GroupConnection implements DatabaseConnection {
  #groups: WriteGroups;
  /** Set between beginTransaction and its commit or rollback: the turn and the group's commit. */
  transaction: { give: () => void; committed: Promise<void> } | null = null;

  constructor(groups: WriteGroups) {
    this.#groups = groups;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const groups = this.#groups;
    if (this.transaction) return run(groups.prepareWrite(query.sql), query.parameters) as QueryResult<R>;
    const read = groups.prepareRead(query.sql);
    if (read.readonly) return run(read, query.parameters) as QueryResult<R>;
    // A lone write statement is a transaction of its own.
    const give = await groups.takeTurn();
    let committed: Promise<void>;
    let result: QueryResult<unknown>;
    try {
      committed = groups.begin();
      try {
        result = run(groups.prepareWrite(query.sql), query.parameters);
        groups.release();
      } catch (error) {
        groups.rollback();
        throw error;
      }
    } finally {
      give();
    }
    await committed;
    return result as QueryResult<R>;
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite store does not stream queries');
  }
}

class GroupCommitDriver implements Driver {
  #groups: WriteGroups;
  #close: () => void;

  constructor(opts: GroupCommitOptions) {
    this.#groups = new WriteGroups(opts);
    this.#close = () => {
      opts.reader?.close();
      opts.writer.close();
    };
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new GroupConnection(this.#groups);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as GroupConnection;
    const give = await this.#groups.takeTurn();
    try {
      conn.transaction = { give, committed: this.#groups.begin() };
    } catch (error) {
      give();
      throw error;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as GroupConnection;
    const { give, committed } = conn.transaction!;
    conn.transaction = null;
    try {
      this.#groups.release();
    } catch (error) {
      this.#groups.rollback();
      give();
      throw error;
    }
    give();
    await committed;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as GroupConnection;
    const tx = conn.transaction;
    if (!tx) return;
    conn.transaction = null;
    try {
      this.#groups.rollback();
    } finally {
      tx.give();
    }
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    // A group still open (its COMMIT not yet due) is committed before the connections close.
    const give = await this.#groups.takeTurn();
    try {
      this.#groups.flush();
    } finally {
      give();
      this.#close();
    }
  }
}

export class GroupCommitSqliteDialect implements Dialect {
  #opts: GroupCommitOptions;
  constructor(opts: GroupCommitOptions) {
    this.#opts = opts;
  }
  createDriver(): Driver {
    return new GroupCommitDriver(this.#opts);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter() {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}
