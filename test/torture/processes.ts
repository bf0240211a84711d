/**
 * A child process of `child.ts`, its stdout split into lines as they come, with a way to wait for
 * a line, write a command to its stdin, and kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { childPath } from './support.js'

export class ChildProcessLines {
  readonly process: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Lines up to here were consumed by {@link next}. */
  #read = 0
  #waiters: Array<() => void> = []

  readonly #reports: string

  constructor(args: readonly string[]) {
    // SIGUSR2 makes the child write a diagnostic report (with its JavaScript stack) before we kill
    // a child that hangs, so that the failure says where.
    this.#reports = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-torture-report-'))
    this.process = spawn(process.execPath, ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${this.#reports}`, childPath(), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let partial = ''
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk
      const parts = partial.split('\n')
      partial = parts.pop() as string
      for (const line of parts) this.lines.push(line)
      this.#wake()
    })
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderr.length < 100_000) this.stderr += chunk
    })
    this.process.stdin?.on('error', () => {}) // a killed child's stdin: EPIPE is expected
    // 'close', not 'exit': it comes once stdout and stderr are drained, so every line printed before
    // a SIGKILL has been read when this resolves.
    this.exited = new Promise((resolve) => {
      this.process.on('close', (code, signal) => {
        this.#wake()
        fs.rmSync(this.#reports, { recursive: true, force: true })
        resolve({ code, signal })
      })
    })
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }

  /** Resolve with the first line (after those already consumed) that passes `test`; rejects on exit or timeout. */
  async next(test: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.#read < this.lines.length) {
        const line = this.lines[this.#read++] as string
        if (test(line)) return line
      }
      if (!this.alive) throw new Error(`child exited (${this.process.exitCode ?? this.process.signalCode}) before the expected line; stderr: ${this.stderr.slice(0, 2000)}`)
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for a line from the child; last lines: ${this.lines.slice(-3).join(' | ')}; stderr: ${this.stderr.slice(0, 2000)}; ${await this.stack()}`)
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100)
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Resolve once `lines.length` reaches `count` or `ms` passed, whichever is first. */
  async linesOrTime(count: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms
    while (this.lines.length < count && Date.now() < deadline && this.alive) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, Math.min(20, deadline - Date.now())))
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Where the child is now: the JavaScript stack of a diagnostic report it writes on SIGUSR2. */
  async stack(): Promise<string> {
    if (!this.alive) return 'the child is gone'
    this.process.kill('SIGUSR2')
    for (let i = 0; i < 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      const file = fs.readdirSync(this.#reports).find((n) => n.endsWith('.json'))
      if (file === undefined) continue
      try {
        const report = JSON.parse(fs.readFileSync(path.join(this.#reports, file), 'utf8')) as {
          javascriptStack?: { message?: string; stack?: string[] }
          libuv?: Array<{ type?: string; is_active?: boolean }>
        }
        const stack = (report.javascriptStack?.stack ?? []).filter((l) => l.trim() !== '' && !l.includes('unknown'))
        if (stack.length > 0) return `its stack: ${stack.slice(0, 12).join(' <- ')}`
        const handles = (report.libuv ?? []).filter((h) => h.is_active === true).map((h) => h.type)
        return `no JavaScript running: it waits in the event loop (active handles: ${handles.join(', ') || 'none'}; a pending fsync would not show)`
      } catch {
        // Still being written.
      }
    }
    return 'it wrote no diagnostic report within 5 s (busy in native code, or stopped)'
  }

  send(line: string): void {
    this.process.stdin?.write(`${line}\n`)
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.process.kill(signal)
    return this.exited
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
