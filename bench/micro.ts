/**
 * Micro-benchmarks (tinybench): the batch codec, CRC-32C (native vs pure JS, by size), the
 * sparse offset index lookup and the partitioner. Run as the `micro` scenario.
 */
import path from 'node:path'
import { Bench } from 'tinybench'
import { hashes } from '../src/hash.js'
import { OffsetIndex } from '../src/index/index.js'
import { Partitioner } from '../src/partition/index.js'
import { checkBatch, decodeRecords, encodeBatch } from '../src/segment/index.js'
// The fallback alone is not part of the segment folder's entry: it is only for measuring.
import { crc32c, crc32cJs } from '../src/segment/crc32c.js'
import { okRow, type Row } from './lib/result.js'
import type { Scenario, ScenarioOutput } from './lib/scenario.js'
import { formatBytesPerSec, KiB, MiB } from './lib/stats.js'
import { makeRecords } from './lib/workload.js'

interface Task {
  name: string
  fn: () => void
  /** Bytes one run processes (for MB/s), if it makes sense. */
  bytes?: number
  /** Records one run processes. */
  records?: number
  role?: 'seglog' | 'baseline'
}

function tasks(index: OffsetIndex, partitioner: Partitioner, entries: number): Task[] {
  const out: Task[] = []
  for (const [count, size] of [
    [64, KiB],
    [256, 100],
  ] as const) {
    const records = makeRecords(count, size)
    const batch = encodeBatch(records)
    const check = checkBatch(batch, 0, batch.length, 1 << 24)
    if (!check.ok) throw new Error('bad batch')
    out.push({ name: `encodeBatch ${count} × ${size} B`, fn: () => void encodeBatch(records), bytes: batch.length, records: count })
    out.push({ name: `checkBatch ${count} × ${size} B (CRC)`, fn: () => void checkBatch(batch, 0, batch.length, 1 << 24), bytes: batch.length, records: count })
    out.push({ name: `decodeRecords ${count} × ${size} B`, fn: () => void decodeRecords(batch, 0, check.header), bytes: batch.length, records: count })
  }
  for (const size of [100, KiB, 64 * KiB, MiB]) {
    const buf = Buffer.alloc(size, 3)
    const label = size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size} B`
    out.push({ name: `crc32c ${label} (seglog's choice)`, fn: () => void crc32c(buf), bytes: size })
    out.push({ name: `crc32c ${label} (crc-32, pure JS)`, fn: () => void crc32cJs(buf), bytes: size, role: 'baseline' })
  }
  let i = 0
  out.push({ name: `OffsetIndex.lookup, ${entries} entries`, fn: () => void index.lookup((i = (i * 1103515245 + 12345) & 0x7fffffff) % (entries * 64)) })
  const keys = Array.from({ length: 1024 }, (_, k) => `user-${k}`)
  const bufKeys = keys.map((k) => Buffer.from(k))
  let k = 0
  out.push({ name: 'Partitioner.choose, string key, 16 partitions', fn: () => void partitioner.choose('t', 16, keys[k++ & 1023], undefined) })
  out.push({ name: 'Partitioner.choose, Buffer key, 16 partitions', fn: () => void partitioner.choose('t', 16, bufKeys[k++ & 1023], undefined) })
  out.push({ name: 'Partitioner.choose, null key (sticky)', fn: () => void partitioner.choose('t', 16, null, undefined) })
  return out
}

export const micro: Scenario = {
  name: 'micro',
  workload: 'tinybench: codec, CRC-32C, offset index lookup, partitioner',
  metric: 'opsPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const entries = 100_000
    const index = OffsetIndex.open(path.join(ctx.dir, '00000000000000000000.index'), { baseOffset: 0, maxIndexBytes: entries * 8, writable: true, mode: 0o600 })
    try {
      for (let e = 0; e < entries; e++) index.append(e * 64 + 63, e * 40_000)
      const partitioner = new Partitioner(await hashes())
      const list = tasks(index, partitioner, entries)
      const bench = new Bench({ time: ctx.quick ? 150 : 600, warmupTime: ctx.quick ? 30 : 100 })
      for (const t of list) bench.add(t.name, t.fn)
      await bench.run()
      const rows: Row[] = []
      for (const t of list) {
        const task = bench.tasks.find((x) => x.name === t.name)
        const r = task?.result as { throughput?: { mean: number }; latency?: { mean: number; p99?: number } } | undefined
        const ops = r?.throughput?.mean ?? 0
        if (!(ops > 0)) continue
        const seconds = 1
        const row = okRow({ system: t.role === 'baseline' ? 'raw' : 'seglog', role: t.role ?? 'seglog', label: t.name, durability: 'memory', seconds, ops, ...(t.bytes === undefined ? {} : { bytes: ops * t.bytes }), ...(t.records === undefined ? {} : { records: ops * t.records }) })
        row.extra = { nsPerOp: 1e9 / ops }
        rows.push(row)
        ctx.log(`  ${t.name.padEnd(48)} ${(1e9 / ops).toFixed(0).padStart(9)} ns/op${t.bytes === undefined ? '' : `  ${formatBytesPerSec(ops * t.bytes)}`}`)
      }
      return { rows, targets: [], notes: ['rates are tinybench means; seconds = 1 by convention (the row is a rate, not a timed run)'] }
    } finally {
      index.close()
    }
  },
}
