/**
 * Running the built `seglog` CLI (`npm run build` first) in child processes, as users run it:
 * to completion with an optional stdin, or in the background (tail, a producer holding its locks)
 * with a way to wait for its output.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { PROJECT_ROOT } from '../kafka-fixtures-folder.js'

export const CLI = path.join(PROJECT_ROOT, 'dist/tools/seglog.js')

export interface Run {
  status: number | null
  stdout: string
  stderr: string
}

export function assertBuilt(): void {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before the tests`)
}

/** Run `seglog ...args` to completion, with `input` on stdin (stdin is closed either way). */
export function seglog(args: readonly string[], input = ''): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 60_000 })
  if (result.error !== undefined) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Non-empty lines of `text`. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '')
}

export function ndjson(text: string): Array<Record<string, unknown>> {
  return lines(text).map((line) => JSON.parse(line) as Record<string, unknown>)
}

/** Every file under `root` with its size and modification time: equal before and after = nothing written. */
export function snapshot(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .map((e) => {
      const file = path.join(e.parentPath, e.name)
      const stat = fs.statSync(file)
      return `${file} ${stat.size} ${stat.mtimeMs}`
    })
    .sort()
}

/** A `seglog` running in the background, its stdout gathered as it comes. */
export class Background {
  readonly child: ChildProcessWithoutNullStreams
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe' })
    this.child.stdout.setEncoding('utf8').on('data', (text: string) => (this.stdout += text))
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => (this.stderr += text))
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })))
  }

  /** Resolve once `done(stdout)` holds; fail after `timeoutMs` with what was printed so far. */
  async waitFor(done: (stdout: string) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!done(this.stdout)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for output; stdout so far:\n${this.stdout}\nstderr:\n${this.stderr}`)
      if (this.child.exitCode !== null) throw new Error(`exited with ${this.child.exitCode} before the output came; stderr:\n${this.stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Send `signal` and wait for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }
}
