/**
 * SQLite through better-sqlite3 (12.x; 13 crashes on Node 20): one table (offset INTEGER PRIMARY
 * KEY, key BLOB, value BLOB), WAL journal, `synchronous` NORMAL (fsync at checkpoints only: what
 * survives power loss is like seglog's fsync 'never'/interval) or FULL (the WAL is fsync'd at every
 * commit: like seglog's fsync 'always'). One batch is one transaction.
 */
import { createRequire } from 'node:module'
import path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'

export type Synchronous = 'NORMAL' | 'FULL'

export class SqlitePeer {
  readonly version: string
  #db: BetterSqlite3.Database
  #insert: BetterSqlite3.Statement
  #get: BetterSqlite3.Statement
  #insertMany: (rows: readonly (readonly [Buffer | null, Buffer])[]) => void
  #next = 0

  private constructor(db: BetterSqlite3.Database) {
    this.#db = db
    this.version = String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v)
    db.exec('CREATE TABLE IF NOT EXISTS log (offset INTEGER PRIMARY KEY, key BLOB, value BLOB)')
    this.#insert = db.prepare('INSERT INTO log (offset, key, value) VALUES (?, ?, ?)')
    this.#get = db.prepare('SELECT key, value FROM log WHERE offset = ?')
    this.#insertMany = db.transaction((rows: readonly (readonly [Buffer | null, Buffer])[]) => {
      for (const [key, value] of rows) this.#insert.run(this.#next++, key, value)
    })
  }

  /** Open `dir/bench.db`; throws with a readable reason when better-sqlite3 cannot load. */
  static open(dir: string, synchronous: Synchronous): SqlitePeer {
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
    const db = new Database(path.join(dir, 'bench.db'))
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    return new SqlitePeer(db)
  }

  get rows(): number {
    return this.#next
  }

  /** One transaction of rows. */
  insertBatch(rows: readonly (readonly [Buffer | null, Buffer])[]): void {
    this.#insertMany(rows)
  }

  /** One row in its own transaction (autocommit). */
  insertOne(key: Buffer | null, value: Buffer): void {
    this.#insert.run(this.#next++, key, value)
  }

  /** Lookup by primary key; returns the value's length (-1 if missing). */
  get(offset: number): number {
    const row = this.#get.get(offset) as { value: Buffer } | undefined
    return row === undefined ? -1 : row.value.length
  }

  /** Every row in offset order; returns [rows, value bytes]. */
  scan(): [number, number] {
    let rows = 0
    let bytes = 0
    for (const row of this.#db.prepare('SELECT offset, key, value FROM log ORDER BY offset').iterate() as IterableIterator<{ value: Buffer }>) {
      rows++
      bytes += row.value.length
    }
    return [rows, bytes]
  }

  close(): void {
    this.#db.close()
  }
}
