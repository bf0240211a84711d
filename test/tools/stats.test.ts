/**
 * `seglog stats`, run as users run it (the built CLI in a child process), on a log written by
 * `seglog produce` and read by `seglog consume --group`.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, Background, lines, seglog, snapshot } from './run-cli.js'

interface PartitionJson {
  partition: number
  logStartOffset: number
  durableOffset: number
  logEndOffset: number
  sizeBytes: number
  segments: number
}
interface StatsJson {
  topics: Array<{ name: string; config: { partitions: number }; partitions: PartitionJson[] }>
  groups: Array<{ group: string; partitions: Array<{ topic: string; partition: number; committed: number | null; durableOffset: number; lag: number }> }>
}

let tmp: string
let dir: string
/** Records per partition of 'orders', from produce --echo. */
const perPartition = [0, 0, 0]

beforeAll(() => {
  assertBuilt()
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-stats-'))
  dir = path.join(tmp, 'log')
  const input = Array.from({ length: 300 }, (_, i) => `user-${i % 11}=order ${i}`).join('\n')
  const run = seglog(['produce', dir, 'orders', '--partitions', '3', '--key-sep', '=', '--echo'], input)
  if (run.status !== 0) throw new Error(run.stderr)
  for (const line of lines(run.stdout)) {
    const partition = Number(line.split(' ')[0])
    perPartition[partition] = (perPartition[partition] ?? 0) + 1
  }
  if (seglog(['produce', dir, 'empty', '--partitions', '2'], '').status !== 0) throw new Error('cannot create topic empty')
  if (seglog(['consume', dir, 'orders', '--group', 'billing', '--max', '100']).status !== 0) throw new Error('cannot consume')
})
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

function statsJson(...args: string[]): StatsJson {
  const run = seglog(['stats', dir, ...args, '--json'])
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  expect(lines(run.stdout)).toHaveLength(1)
  return JSON.parse(run.stdout) as StatsJson
}

describe('seglog stats', () => {
  it('--json gives the offsets, sizes and segments of every partition, matching what was produced', () => {
    const stats = statsJson()
    expect(stats.topics.map((t) => t.name)).toEqual(['empty', 'orders'])
    const orders = stats.topics[1]
    expect(orders?.config.partitions).toBe(3)
    expect(orders?.partitions.map((p) => p.partition)).toEqual([0, 1, 2])
    for (const p of orders?.partitions ?? []) {
      expect(p.logStartOffset).toBe(0)
      expect(p.durableOffset).toBe(perPartition[p.partition])
      expect(p.logEndOffset).toBe(perPartition[p.partition])
      expect(p.segments).toBe(1)
      if (p.durableOffset > 0) expect(p.sizeBytes).toBeGreaterThan(p.durableOffset * 10)
    }
    expect(stats.topics[0]?.partitions.map((p) => [p.durableOffset, p.sizeBytes])).toEqual([
      [0, 0],
      [0, 0],
    ])
  })

  it('--json gives each group its committed offset and lag per partition', () => {
    const { groups } = statsJson()
    expect(groups.map((g) => g.group)).toEqual(['billing'])
    const billing = groups[0]?.partitions ?? []
    expect(billing.map((p) => [p.topic, p.partition])).toEqual([
      ['orders', 0],
      ['orders', 1],
      ['orders', 2],
    ])
    let consumed = 0
    for (const p of billing) {
      expect(p.durableOffset).toBe(perPartition[p.partition])
      expect(p.lag).toBe(p.durableOffset - (p.committed ?? 0))
      consumed += p.committed ?? 0
    }
    expect(consumed).toBe(100)
  })

  it('prints tables for people, and restricts to the topics given', () => {
    const run = seglog(['stats', dir])
    expect(run.status).toBe(0)
    const out = lines(run.stdout)
    expect(out[0]).toMatch(/^TOPIC\s+PARTITION\s+LOG START\s+DURABLE\s+END\s+RECORDS\s+SIZE\s+SEGMENTS\s+DIRTY$/)
    expect(out).toContainEqual(expect.stringMatching(new RegExp(`^orders\\s+0\\s+0\\s+${perPartition[0]}\\s+${perPartition[0]}\\s+${perPartition[0]}\\s+`)))
    expect(out).toContainEqual(expect.stringMatching(/^GROUP\s+TOPIC\s+PARTITION\s+COMMITTED\s+DURABLE\s+LAG$/))
    expect(out.filter((line) => line.startsWith('billing'))).toHaveLength(3)
    const only = statsJson('empty')
    expect(only.topics.map((t) => t.name)).toEqual(['empty'])
    expect(only.groups).toEqual([])
  })

  it('takes no lock and writes nothing: it runs beside a producer holding its partitions', async () => {
    const producer = new Background(['produce', dir, 'orders', '--echo'])
    try {
      producer.child.stdin.write('user-1=while stats runs\n')
      await producer.waitFor((out) => lines(out).length === 1)
      const [partition, offset] = (producer.stdout.trim().split(' ') as [string, string]).map(Number) as [number, number]
      const before = snapshot(dir)
      const stats = statsJson()
      expect(snapshot(dir)).toEqual(before)
      expect(stats.topics[1]?.partitions[partition]?.durableOffset).toBe(offset + 1)
    } finally {
      producer.child.stdin.end()
      expect((await producer.exited).code).toBe(0)
    }
  })

  it('exits 2 with one line for a folder that is not a log, an unknown topic, and creates nothing', () => {
    const nowhere = path.join(tmp, 'absent')
    const absent = seglog(['stats', nowhere])
    expect(absent.status).toBe(2)
    expect(absent.stderr).toBe(`seglog stats: cannot open log '${nowhere}': no such folder\n`)
    expect(fs.existsSync(nowhere)).toBe(false)
    const plain = fs.mkdtempSync(path.join(tmp, 'plain-'))
    const notLog = seglog(['stats', plain])
    expect(notLog.status).toBe(2)
    expect(notLog.stderr).toBe(`seglog stats: cannot open log '${plain}': it is not a seglog log (no seglog.json)\n`)
    expect(fs.readdirSync(plain)).toEqual([])
    const unknown = seglog(['stats', dir, 'nope'])
    expect(unknown.status).toBe(2)
    expect(lines(unknown.stderr)).toEqual([`seglog stats: topic 'nope' does not exist in ${dir} (its topics: empty, orders)`])
  })
})
