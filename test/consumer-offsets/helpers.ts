/**
 * Shared helpers of the consumer tests: temporary log roots, topics, a consumer context, child
 * processes running the built package (dist/), and waiting for conditions.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ConsumerContext, ConsumerMessage } from '../../src/consumer-offsets/index.js'
import { Topic, type TopicConfig } from '../../src/partition/topic.js'
import type { RecordInput } from '../../src/segment/index.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const FIXTURES = path.join(ROOT, 'test/consumer-offsets/fixtures')

const made: string[] = []
const topics: Topic[] = []

/** A fresh, empty folder; removed by {@link cleanup}. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-consumer-'))
  made.push(dir)
  return dir
}

/** Create a topic (closed by {@link cleanup}). */
export async function createTopic(root: string, name: string, config: TopicConfig): Promise<Topic> {
  const topic = await Topic.create(root, name, config)
  topics.push(topic)
  return topic
}

/** Close every topic and remove every folder the helpers made (call in afterEach). */
export async function cleanup(): Promise<void> {
  for (const t of topics.splice(0)) await t.close().catch(() => {})
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/** A consumer context over already-open topics (shared readers, as the log would do). */
export function contextOf(root: string, ...open: Topic[]): ConsumerContext {
  return {
    root,
    async topic(name) {
      const topic = open.find((t) => t.name === name)
      if (topic === undefined) throw new Error(`test context has no topic ${name}`)
      return topic
    },
  }
}

/** Records `value = <prefix>-<offset>` appended one batch per call. */
export async function produce(topic: Topic, partition: number, count: number, extra: Partial<RecordInput> = {}): Promise<void> {
  const writer = await topic.writer(partition)
  const from = writer.logEndOffset
  await writer.append(Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `p${partition}-${from + i}`, ...extra })))
}

/** Plain `partition:offset` strings of messages. */
export function ids(messages: readonly ConsumerMessage[]): string[] {
  return messages.map((m) => `${m.topic}/${m.partition}:${m.offset}`)
}

/** Every `topic/partition:offset` for offsets [0, count) of each listed partition. */
export function allIds(topic: string, partitions: number[], count: number): string[] {
  return partitions.flatMap((p) => Array.from({ length: count }, (_, o) => `${topic}/${p}:${o}`))
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolve once `test()` is true, polling every few ms; fail after `timeoutMs` with `what`. */
export async function until(test: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/** Fail with a clear message if dist/ is missing or older than src/consumer-offsets (child processes run dist/). */
export function requireFreshDist(): void {
  const stale: string[] = []
  for (const folder of ['src/consumer-offsets', 'src/partition']) {
    for (const name of fs.readdirSync(path.join(ROOT, folder))) {
      if (!name.endsWith('.ts')) continue
      const source = path.join(ROOT, folder, name)
      const built = path.join(ROOT, 'dist', folder, name.replace(/\.ts$/, '.js'))
      if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(source).mtimeMs) stale.push(path.join(folder, name))
    }
  }
  if (stale.length > 0) throw new Error(`dist/ is missing or older than ${stale.join(', ')}: run 'npm run build' (npx tsc -p .) first`)
}

/** A child `node` process running a fixture script, with its stdout split into lines (each with its arrival time). */
export class Child {
  readonly process: ChildProcess
  readonly lines: string[] = []
  readonly times: number[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(script: string, args: string[]) {
    this.process = spawn(process.execPath, [path.join(FIXTURES, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let partial = ''
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk
      const parts = partial.split('\n')
      partial = parts.pop() as string
      const now = Date.now()
      for (const line of parts) {
        this.lines.push(line)
        this.times.push(now)
      }
    })
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.exited = new Promise((resolve) => this.process.on('exit', (code, signal) => resolve({ code, signal })))
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }

  /** Records printed as `<partition> <offset>` lines. */
  records(): string[] {
    return this.lines.filter((l) => /^[0-9]+ [0-9]+$/.test(l))
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.process.kill(signal)
    return this.exited
  }
}
