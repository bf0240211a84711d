/**
 * compaction: 1 GiB of 1 KiB values over keys of which 10% are live (each key written 10 times),
 * compacted once; MB/s of log bytes read and the process's peak RSS. Compaction is feature-
 * detected at run time: a Log that refuses `cleanupPolicy: 'compact'` or a partition without
 * `compact()` makes the scenario "skipped: not implemented", never a failure.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Log, type Partition, type TopicConfig } from '../../src/seglog.js'
import { okRow } from '../lib/result.js'
import type { Scenario, ScenarioOutput } from '../lib/scenario.js'
import { formatBytesPerSec, GiB, KiB, MiB, nowMs, secondsSince, syncDisk } from '../lib/stats.js'
import { logFiles, readFiles } from '../lib/workload.js'

type Compactable = Partition & { compact(): Promise<unknown> }

function sizeOf(dir: string): number {
  return logFiles(dir).reduce((sum, f) => sum + fs.statSync(f).size, 0)
}

export const compaction: Scenario = {
  name: 'compaction',
  workload: '1 GiB of 1 KiB values, 10% live keys (each key written 10 times), one compaction pass',
  metric: 'bytesPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const totalBytes = ctx.quick ? 64 * MiB : GiB
    const segmentBytes = ctx.quick ? 8 * MiB : 64 * MiB
    const log = await Log.open(path.join(ctx.dir, 'log'))
    try {
      const config = { partitions: 1, fsync: 'never', cleanupPolicy: 'compact', segmentBytes } as unknown as TopicConfig
      try {
        await log.createTopic('compacted', config)
      } catch (err) {
        return { rows: [], targets: [], notes: [], skipped: `not implemented (cleanupPolicy 'compact' refused: ${(err as Error).message.split('\n')[0]})` }
      }
      const topic = await log.topic('compacted')
      const writer = (await topic.writer(0)) as Compactable
      if (typeof writer.compact !== 'function') return { rows: [], targets: [], notes: [], skipped: 'not implemented (Partition has no compact())' }
      const perBatch = 64
      const records = Math.floor(totalBytes / (KiB + 30))
      const keys = Math.max(1, Math.floor(records / 10))
      const value = Buffer.alloc(KiB, 0x63)
      ctx.log(`  writing ${records} records over ${keys} keys`)
      for (let i = 0; i < records; i += perBatch) {
        const batch = []
        for (let j = i; j < Math.min(records, i + perBatch); j++) batch.push({ key: `key-${j % keys}`, value })
        await writer.append(batch)
      }
      await writer.flush()
      const dir = writer.dir
      const before = sizeOf(dir)
      syncDisk()
      const rawStart = nowMs()
      const rawBytes = readFiles(logFiles(dir).slice(0, -1), true)
      const raw = okRow({ system: 'raw', role: 'baseline', label: 'readSync + CRC-32C of the sealed segments', durability: 'read', seconds: secondsSince(rawStart), bytes: rawBytes })
      const rssBefore = process.resourceUsage().maxRSS * 1024
      const start = nowMs()
      const result = (await writer.compact()) as unknown as Record<string, unknown> | undefined
      const seconds = secondsSince(start)
      const peakRss = process.resourceUsage().maxRSS * 1024
      const after = sizeOf(dir)
      const extra: Record<string, number> = { bytesBefore: before, bytesAfter: after, peakRssBytes: peakRss, rssBeforeBytes: rssBefore }
      for (const [k, v] of Object.entries(result ?? {})) if (typeof v === 'number' && Number.isFinite(v)) extra[`result.${k}`] = v
      const read = typeof result?.bytesBefore === 'number' ? result.bytesBefore : rawBytes
      const row = okRow({ system: 'seglog', role: 'seglog', label: `Partition.compact(), ${(before / MiB).toFixed(0)} MiB → ${(after / MiB).toFixed(0)} MiB`, durability: "fsync 'never'", seconds, bytes: read, records, extra })
      return {
        rows: [row, raw],
        targets: [{ target: 'report MB/s and peak RSS', actual: `${formatBytesPerSec(read / seconds)}, peak RSS ${(peakRss / MiB).toFixed(0)} MiB`, met: true }],
        notes: ['peak RSS is the whole benchmark process (it holds the log writer too)'],
      }
    } finally {
      await log.close()
    }
  },
}
