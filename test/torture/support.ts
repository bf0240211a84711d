/**
 * What every torture scenario shares: run levels, the outcome each returns (one line of figures,
 * the figures themselves, the failures found), a seeded PRNG, scratch folders, percentiles, and
 * `seglog verify` / `seglog dump` run in this process (for the scenarios that call them tens of
 * thousands of times) or as the real CLI in a child process.
 *
 * This file and the scenarios compile to `dist/test/torture/` (tsconfig includes test/torture) so
 * that `npm run torture` runs them with node, and vitest runs the same modules from source with a
 * small level in `npm test`. Child processes always run the built package (`dist/`).
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { SeglogError } from '../../src/errors.js'
import { verify } from '../../tools/verify.js'
import { dump } from '../../tools/dump.js'

export { Random } from './random.js'

/** `test`: seconds, inside `npm test`; `quick`: `npm run torture -- --quick` (< 3 min); `full`: < 30 min. */
export type Level = 'test' | 'quick' | 'full'

export interface Outcome {
  scenario: string
  /** `sigkill: 2000 kills, 1843211 acked, 0 lost, …` */
  line: string
  figures: Record<string, number | string | boolean>
  /** One sentence per failure (capped at {@link FAILURES_KEPT}; `failureCount` has them all). */
  failures: string[]
  failureCount: number
  seed: number
  seconds: number
}

export type Scenario = (level: Level, seed: number) => Promise<Outcome>

const FAILURES_KEPT = 25

/** Collects figures and failures while a scenario runs, and builds its {@link Outcome}. */
export class Report {
  readonly scenario: string
  readonly seed: number
  readonly figures: Record<string, number | string | boolean> = {}
  readonly failures: string[] = []
  failureCount = 0
  #started = process.hrtime.bigint()

  constructor(scenario: string, seed: number) {
    this.scenario = scenario
    this.seed = seed
  }

  /** Record a failure: what was expected, what happened, and how to reproduce it. */
  fail(message: string): void {
    this.failureCount++
    if (this.failures.length < FAILURES_KEPT) this.failures.push(message)
    if (process.env.TORTURE_VERBOSE !== undefined) process.stderr.write(`[${this.scenario}] FAILURE ${message}\n`)
  }

  /** Assert `ok`, recording `message()` as a failure when it does not hold. */
  check(ok: boolean, message: () => string): boolean {
    if (!ok) this.fail(message())
    return ok
  }

  /**
   * A failure already reported and not yet fixed (see the README's list of known issues): counted
   * under `known`, printed once per kind, and not failing the run, so that the suite still guards
   * everything else. `id` names the issue.
   */
  known(id: string, message: string, detail?: string): void {
    this.count('known')
    if (process.env.TORTURE_VERBOSE !== undefined) process.stderr.write(`[${this.scenario}] KNOWN ${id}: ${detail ?? message}\n`)
    const list = (this.figures.knownIssues as string | undefined)?.split('; ') ?? []
    if (!list.some((l) => l.startsWith(`${id}:`))) list.push(`${id}: ${message}`)
    this.figures.knownIssues = list.join('; ')
  }

  count(name: string, by = 1): void {
    this.figures[name] = ((this.figures[name] as number | undefined) ?? 0) + by
  }

  get(name: string): number {
    return (this.figures[name] as number | undefined) ?? 0
  }

  done(summary: string): Outcome {
    const seconds = Number(process.hrtime.bigint() - this.#started) / 1e9
    const known = this.get('known') === 0 ? '' : `, ${this.get('known')} known-issue hits`
    const failed = (this.failureCount === 0 ? '' : `, ${this.failureCount} FAILURES`) + known
    return {
      scenario: this.scenario,
      line: `${this.scenario}: ${summary}${failed}`,
      figures: this.figures,
      failures: this.failures,
      failureCount: this.failureCount,
      seed: this.seed,
      seconds: Math.round(seconds * 10) / 10,
    }
  }
}

/** The project folder (holding package.json), from this file in `test/torture/` or `dist/test/torture/`. */
export const PROJECT_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'tsconfig.json'))) return dir
    dir = path.dirname(dir)
  }
  throw new Error('cannot find the project folder above test/torture')
})()

/**
 * The built files child processes run: `dist/`, or the snapshot of it that `npm run torture` takes
 * first (TORTURE_DIST), so that a rebuild while it runs cannot hand a child a half-written file.
 */
export function distDir(): string {
  return process.env.TORTURE_DIST ?? path.join(PROJECT_ROOT, 'dist')
}

export function cliPath(): string {
  return path.join(distDir(), 'tools/seglog.js')
}

export function childPath(): string {
  return path.join(distDir(), 'test/torture/child.js')
}

/** Fail early, with the fix, when the built files the child processes run are missing. */
export function requireBuilt(): void {
  for (const file of [cliPath(), childPath()]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run 'npm run build' (npx tsc -p .) first`)
  }
}

const made: string[] = []

/**
 * A fresh folder. `memory`: on tmpfs (/dev/shm) when there is one, where fsync costs nothing, for
 * the scenarios that build thousands of copies of a partition; `disk`: under the OS temporary folder.
 */
export function scratch(kind: 'memory' | 'disk', prefix = 'seglog-torture-'): string {
  const base = kind === 'memory' && fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()
  const dir = fs.mkdtempSync(path.join(base, prefix))
  made.push(dir)
  return dir
}

/** Remove every folder {@link scratch} made. */
export function removeScratch(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** The files of a folder (not below), as name → bytes. */
export function readFolder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isFile()) out.set(entry.name, fs.readFileSync(path.join(dir, entry.name)))
  return out
}

/** Make `dir` hold exactly `files` (and no other files): a cheap restore of a small partition. */
export function writeFolder(dir: string, files: ReadonlyMap<string, Buffer>): void {
  fs.mkdirSync(dir, { recursive: true })
  for (const name of fs.readdirSync(dir)) if (!files.has(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true })
  for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes)
}

/** Every path below `dir` with its size (folders as -1), sorted: compared before and after to prove nothing was created. */
export function tree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name)
      if (entry.isDirectory()) {
        out.push(`${path.relative(dir, p)}/`)
        walk(p)
      } else out.push(`${path.relative(dir, p)} ${entry.isSymbolicLink() ? 'link' : fs.lstatSync(p).size}`)
    }
  }
  walk(dir)
  return out.sort()
}

/** The `q`-quantile (0..1) of `values` (sorted copy), 0 if empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

export function ms(nanoseconds: bigint): number {
  return Number(nanoseconds) / 1e6
}

/** A typed seglog error, a RangeError/TypeError for bad arguments: what the API promises to throw. */
export function isTypedError(err: unknown): boolean {
  return err instanceof SeglogError
}

/** `code: message` of an error, for failure lines. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return `${err.constructor.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}`
  }
  return String(err)
}

export interface VerifyProblem {
  file: string
  position: number
  kind: string
  message: string
}

export interface VerifyResult {
  ok: boolean
  problems: VerifyProblem[]
  checked: Record<string, number>
  exitCode: number
  stderr: string
}

/**
 * Run `fn` with everything written to stdout and stderr captured instead of printed. The CLI's
 * commands write through `process.stdout`; calling them here costs microseconds where a child
 * process costs a hundred milliseconds, which the bit-flip and fuzz scenarios, at 100,000 calls
 * and more, cannot pay.
 */
async function captured<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  const out = process.stdout
  const err = process.stderr
  const writeOut = out.write
  const writeErr = err.write
  const listenersBefore = new Set(out.listeners('error'))
  let stdout = ''
  let stderr = ''
  out.write = ((chunk: string | Uint8Array): boolean => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    return true
  }) as typeof out.write
  err.write = ((chunk: string | Uint8Array): boolean => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    return true
  }) as typeof err.write
  try {
    const value = await fn()
    return { value, stdout, stderr }
  } finally {
    out.write = writeOut
    err.write = writeErr
    // Each command's LineWriter listens for 'error' on stdout; drop theirs so that they do not pile up.
    for (const l of out.listeners('error')) if (!listenersBefore.has(l)) out.off('error', l as (...args: unknown[]) => void)
  }
}

export interface ToolLimits {
  maxBatchBytes?: number
  maxUnsyncedBytes?: number
}

/** `seglog verify --json PATH...`, run in this process. */
export async function verifyHere(paths: readonly string[], limits: ToolLimits = {}): Promise<VerifyResult> {
  const { value, stdout, stderr } = await captured(() =>
    verify(paths, { json: true, maxBatchBytes: limits.maxBatchBytes ?? 16 * 1024 * 1024, maxUnsyncedBytes: limits.maxUnsyncedBytes ?? 4 * 1024 * 1024 }),
  )
  return parseVerify(stdout, stderr, value)
}

function parseVerify(stdout: string, stderr: string, exitCode: number): VerifyResult {
  const line = stdout.trim().split('\n').pop() ?? ''
  try {
    const parsed = JSON.parse(line) as { ok: boolean; problems: VerifyProblem[]; checked: Record<string, number> }
    return { ok: parsed.ok, problems: parsed.problems, checked: parsed.checked, exitCode, stderr }
  } catch {
    return { ok: false, problems: [{ file: '', position: 0, kind: 'no-output', message: `verify printed no JSON (exit ${exitCode}): ${stdout.slice(0, 200)} ${stderr.slice(0, 500)}` }], checked: {}, exitCode, stderr }
  }
}

/** `seglog dump [--records] FILE...`, run in this process: exit code and output sizes. */
export async function dumpHere(files: readonly string[], options: { records?: boolean; json?: boolean; maxBatchBytes?: number } = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { value, stdout, stderr } = await captured(() =>
    dump(files, { json: options.json === true, records: options.records !== false, values: 'hex', maxBatchBytes: options.maxBatchBytes ?? 16 * 1024 * 1024 }),
  )
  return { exitCode: value, stdout, stderr }
}

/** The real `seglog` CLI in a child process. */
export function seglogCli(args: readonly string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null } {
  const result = spawnSync(process.execPath, [cliPath(), ...args], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, timeout: timeoutMs })
  if (result.error !== undefined) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, signal: result.signal }
}

/** The real `seglog` CLI in a child process, without blocking this one's event loop (its other children keep being read). */
export function seglogCliAsync(args: readonly string[], timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t))
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t))
    child.once('error', reject)
    child.once('close', (status, signal) => resolve({ status, stdout, stderr, signal }))
  })
}

/** `seglog verify --json` as a child process. */
export async function verifyCli(paths: readonly string[], limits: ToolLimits = {}): Promise<VerifyResult> {
  const args = ['verify', '--json', ...paths]
  if (limits.maxBatchBytes !== undefined) args.push('--max-batch-bytes', String(limits.maxBatchBytes))
  if (limits.maxUnsyncedBytes !== undefined) args.push('--max-unsynced-bytes', String(limits.maxUnsyncedBytes))
  const run = await seglogCliAsync(args)
  return parseVerify(run.stdout, run.stderr, run.status ?? -1)
}

/** Problems as one short string for a failure line. */
export function problemsText(result: VerifyResult): string {
  return result.problems
    .slice(0, 3)
    .map((p) => `${path.basename(p.file)}@${p.position} ${p.kind}: ${p.message}`)
    .join('; ')
}

let opensSinceCollect = 0

/**
 * Index files are memory-mapped through `@riaskov/mmap-io`, which cannot unmap: a mapping goes when
 * its Buffer is garbage-collected, and V8 does not count mappings as memory, so a process that opens
 * and closes partitions many thousands of times runs into `vm.max_map_count` (65530) before any
 * collection frees them, and dies with std::bad_alloc (a finding of this suite, see the README).
 * Scenarios that open thousands of partitions call this after each open; under `node --expose-gc`
 * (as `npm run torture` runs) it collects every `every` opens, so that the suite measures seglog
 * rather than that limit.
 */
export async function collectMappings(every = 500): Promise<void> {
  if (++opensSinceCollect < every) return
  opensSinceCollect = 0
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return
  gc()
  // The addon's release runs in a second-pass weak callback: let the event loop turn.
  await new Promise((resolve) => setTimeout(resolve, 1))
}

/** Memory mappings of this process (Linux), for the figures; 0 where /proc is missing. */
export function mappingCount(): number {
  try {
    return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').length - 1
  } catch {
    return 0
  }
}

/** A seed from the environment (SEED=…) or the clock. */
export function seedFromEnv(): number {
  const s = Number(process.env.SEED)
  return Number.isSafeInteger(s) ? s : Date.now() % 2 ** 31
}
