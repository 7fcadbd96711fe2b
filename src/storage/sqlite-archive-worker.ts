/**
 * The worker thread that holds a SQLite database's message archive (started by
 * sqlite-archive-thread.ts): its own connection to the database file, the archive's statements,
 * and the group commit of its appends (sqlite-group-commit.ts). Inserting a message into the
 * archive's four indexes and committing the window's pages to the write-ahead log cost several
 * times what delivering it does; here they run beside the event loop that delivers messages
 * instead of in it (docs/performance.md, "The message archive's writes").
 *
 * Messages from the main thread; a call is answered after every batch of appends received before it:
 * - `{ kind: 'appends', batch, rows }`: appends, APPEND_FIELDS fields per message;
 *   answered once all are committed with `{ batch, results }`, a position or an error text each;
 * - `{ kind: 'call', call, method, args }`: any other ArchiveStore method, `flush` (commits what
 *   is queued) or `close`; answered with `{ call, value }` or `{ call, error }`.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { sqliteArchiveStore } from './sqlite-archive.ts';
import { SqliteGroupCommit } from './sqlite-group-commit.ts';
import { APPEND_FIELDS, type ArchiveThreadOptions, type ArchiveThreadRequest } from './sqlite-archive-thread.ts';

const options = workerData as ArchiveThreadOptions;
const db = new DatabaseSync(options.file, { timeout: options.busyTimeoutMs });
// synchronous is a setting of each connection; the journal mode (WAL) is the file's, set at open.
db.exec('PRAGMA synchronous = NORMAL');
db.exec(`PRAGMA cache_size = -${Math.floor(options.cacheKilobytes)}`);
const commits = new SqliteGroupCommit(db, options.commitWindowMs, options.commitMaxWrites);
const store = sqliteArchiveStore(db, commits);
const port = parentPort!;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));
/** settles once every batch of appends received so far is answered: a call is answered after them */
let appendsAnswered: Promise<unknown> = Promise.resolve();

port.on('message', (request: ArchiveThreadRequest) => {
  if (request.kind === 'appends') {
    const { rows } = request;
    const appends: Promise<number>[] = [];
    for (let at = 0; at < rows.length; at += APPEND_FIELDS) {
      appends.push(
        store.append(
          { domain: rows[at] as string, name: rows[at + 1] as string },
          { id: rows[at + 2] as string, position: rows[at + 3] as number, withBare: rows[at + 4] as string, withResource: (rows[at + 5] as string | null) ?? undefined, stanza: rows[at + 6] as string },
        ),
      );
    }
    const answered = Promise.allSettled(appends).then((settled) =>
      port.postMessage({ batch: request.batch, results: settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : { error: describe(outcome.reason) })) }),
    );
    appendsAnswered = Promise.all([appendsAnswered, answered]);
    return;
  }
  const { call, method, args } = request;
  let work: Promise<unknown>;
  try {
    if (method === 'flush') work = Promise.resolve(commits.flush());
    else if (method === 'close') {
      commits.flush();
      db.close();
      work = Promise.resolve();
    } else work = (store[method] as (...parameters: unknown[]) => Promise<unknown>)(...args);
  } catch (error) {
    work = Promise.reject(error);
  }
  // Run at once (a read commits the queued appends first), answered after the appends before it.
  Promise.all([work, appendsAnswered]).then(
    ([value]) => port.postMessage({ call, value }),
    (error: unknown) => port.postMessage({ call, error: describe(error) }),
  );
});
