/**
 * Shared helpers of the partition tests: temporary folders, expected records, reading a whole
 * partition back, child processes running the built package (dist/), and byte-level surgery.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import type { LogRecord, Partition, PartitionOptions, RecordInput } from '../../src/seglog.js'
import { SeglogError } from '../../src/seglog.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const FIXTURES = path.join(ROOT, 'test/partition/fixtures')
export const DIST_ENTRY = path.join(ROOT, 'dist/src/seglog.js')

/** Options small enough that a few KiB of records roll several segments and fill indexes. */
export const SMALL: PartitionOptions = {
  segmentBytes: 2048,
  indexIntervalBytes: 128,
  maxIndexBytes: 1024,
}

const made: string[] = []

/** A fresh, empty folder under the OS temporary folder; removed by {@link removeTempDirs}. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
  made.push(dir)
  return dir
}

/** Remove every folder {@link tempDir} made (call in afterEach / afterAll). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** Copy a partition folder (open or not) to a fresh temporary folder, as a crash would leave it. */
export function copyDir(dir: string): string {
  const copy = tempDir()
  fs.cpSync(dir, copy, { recursive: true })
  return copy
}

/**
 * The files of a partition folder, kept in memory, to put a working folder back as it was before
 * each of many attempts: only files that changed are rewritten (a fresh copy of the folder per
 * attempt costs more than the attempt).
 */
export class DirSnapshot {
  #files = new Map<string, Buffer>()

  constructor(dir: string) {
    for (const name of fs.readdirSync(dir)) this.#files.set(name, fs.readFileSync(path.join(dir, name)))
  }

  /** Make `dir` hold exactly the snapshot's files, except those named in `remove`. */
  restore(dir: string, remove: readonly string[] = []): void {
    for (const name of fs.readdirSync(dir)) if (!this.#files.has(name) || remove.includes(name)) fs.rmSync(path.join(dir, name))
    for (const [name, bytes] of this.#files) {
      if (remove.includes(name)) continue
      const file = path.join(dir, name)
      if (!fs.existsSync(file) || !fs.readFileSync(file).equals(bytes)) fs.writeFileSync(file, bytes)
    }
  }
}

/** A record as the tests compare it: plain data, bytes as hex. */
export interface PlainRecord {
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: Array<[string, string | null]>
}

function hexOf(bytes: Uint8Array | string | null | undefined): string | null {
  if (bytes === null || bytes === undefined) return null
  return typeof bytes === 'string' ? Buffer.from(bytes, 'utf8').toString('hex') : Buffer.from(bytes).toString('hex')
}

/** What reading `input` back at `offset` must give (a string goes in as UTF-8). */
export function expectedRecord(input: RecordInput, offset: number, timestamp: number): PlainRecord {
  const headers = input.headers === undefined ? [] : Array.isArray(input.headers) ? input.headers : Object.entries(input.headers)
  return {
    offset,
    timestamp,
    key: hexOf(input.key),
    value: hexOf(input.value),
    // A header key is text: it reads back as its UTF-8 round trip.
    headers: headers.map(([k, v]) => [Buffer.from(k, 'utf8').toString('utf8'), hexOf(v)]),
  }
}

export function plain(r: LogRecord): PlainRecord {
  return { offset: r.offset, timestamp: r.timestamp, key: hexOf(r.key), value: hexOf(r.value), headers: r.headers.map(([k, v]) => [k, hexOf(v)]) }
}

/** Every record from the log start offset to the durable offset, through `records()`. */
export async function readAll(p: Partition, from = p.logStartOffset): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  for await (const r of p.records({ from })) out.push(r)
  return out
}

/** Every record through repeated `read()` calls of `maxBytes`. */
export function readAllByRead(p: Partition, maxBytes: number, from = p.logStartOffset): LogRecord[] {
  const out: LogRecord[] = []
  let next = from
  for (let guard = 0; guard < 1_000_000; guard++) {
    const { records, nextOffset } = p.read({ from: next, maxBytes })
    out.push(...records)
    if (nextOffset <= next) return out
    next = nextOffset
  }
  throw new Error('readAllByRead did not finish')
}

/** Records whose value is their index as text, `prefix-<i>`, for tests that only care about order. */
export function numbered(from: number, count: number, prefix = 'v'): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 7}`, value: `${prefix}-${from + i}`, timestamp: 1_700_000_000_000 + from + i }))
}

/** Append `batches` batches of `perBatch` numbered records, one after the other. */
export async function appendNumbered(p: Partition, batches: number, perBatch: number, prefix = 'v'): Promise<void> {
  for (let b = 0; b < batches; b++) await p.append(numbered(p.logEndOffset, perBatch, prefix))
}

/** Assert that `records` are exactly offsets `[from, to)` with the values {@link numbered} gives. */
export function expectNumbered(records: LogRecord[], from: number, to: number, prefix = 'v'): void {
  expect(records.map((r) => r.offset)).toEqual(Array.from({ length: to - from }, (_, i) => from + i))
  for (const r of records) expect(r.value?.toString()).toBe(`${prefix}-${r.offset}`)
}

/** Catch what `fn` throws (sync or async) and return it; fails the test if nothing is thrown. */
export async function caught(fn: () => unknown): Promise<SeglogError> {
  try {
    await fn()
  } catch (err) {
    return err as SeglogError
  }
  throw new Error('expected an error, nothing was thrown')
}

/** The segment files of `dir`, oldest first. */
export function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => /^[0-9]{20}\.log$/.test(n))
    .sort()
    .map((n) => path.join(dir, n))
}

/** Flip bit `bit` (0 = most significant of the byte) of the byte at `position` of `file`. */
export function flipBit(file: string, position: number, bit: number): void {
  const fd = fs.openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    fs.readSync(fd, b, 0, 1, position)
    b[0] = (b[0] as number) ^ (0x80 >> bit)
    fs.writeSync(fd, b, 0, 1, position)
  } finally {
    fs.closeSync(fd)
  }
}

/** Positions and offsets of the batches of a `.log` file, read from their headers. */
export function batchesOf(file: string): Array<{ position: number; size: number; baseOffset: number; lastOffset: number }> {
  const bytes = fs.readFileSync(file)
  const out: Array<{ position: number; size: number; baseOffset: number; lastOffset: number }> = []
  for (let p = 0; p + 12 <= bytes.length; ) {
    const size = bytes.readInt32BE(p + 8) + 12
    const baseOffset = Number(bytes.readBigInt64BE(p))
    out.push({ position: p, size, baseOffset, lastOffset: baseOffset + bytes.readInt32BE(p + 23) })
    p += size
  }
  return out
}

/** Fail with a clear message if dist/ is missing or older than src/ (child processes run dist/). */
export function requireFreshDist(): void {
  const stale: string[] = []
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const built = path.join(ROOT, 'dist', path.relative(ROOT, file)).replace(/\.ts$/, '.js')
        if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(file).mtimeMs) stale.push(path.relative(ROOT, file))
      }
    }
  }
  walk(path.join(ROOT, 'src'))
  if (stale.length > 0) throw new Error(`dist/ is missing or older than ${stale.join(', ')}: run 'npm run build' (npx tsc -p .) first`)
}

/** A child `node` process running a fixture script, with its stdout split into lines. */
export class Child {
  readonly process: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  #waiters: Array<() => void> = []

  constructor(script: string, args: string[]) {
    this.process = spawn(process.execPath, [path.join(FIXTURES, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let partial = ''
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk
      const parts = partial.split('\n')
      partial = parts.pop() as string
      this.lines.push(...parts)
      for (const w of this.#waiters.splice(0)) w()
    })
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        for (const w of this.#waiters.splice(0)) w()
        resolve({ code, signal })
      })
    })
  }

  /** Resolve once a line satisfies `test` (returns it); rejects if the child exits first or after `timeoutMs`. */
  async waitForLine(test: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const line = this.lines.find(test)
      if (line !== undefined) return line
      if (this.process.exitCode !== null || this.process.signalCode !== null) {
        throw new Error(`child exited (${this.process.exitCode ?? this.process.signalCode}) before the expected line; stderr: ${this.stderr}`)
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for a line from the child; stderr: ${this.stderr}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal)
    return this.exited
  }
}
