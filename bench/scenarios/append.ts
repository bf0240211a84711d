/**
 * append-1k and append-100b: Partition.append with fsync 'never', one batch per call, beside
 * raw `fs.writeSync` of the very same framed batch bytes in the same chunk sizes, and the peers
 * inserting the same records in batches of the same size (SQLite synchronous=NORMAL, one
 * transaction per batch; NATS JetStream and Redis AOF everysec, one batch of publishes in flight).
 *
 * Peers write less data than seglog (they are far slower); their rates are per record, so they
 * compare, and each row says how much it wrote.
 */
import path from 'node:path'
import { Partition } from '../../src/seglog.js'
import type { RecordInput } from '../../src/segment/index.js'
import { NatsPeer } from '../peers/nats.js'
import { RedisPeer } from '../peers/redis.js'
import { startNats, startRedis } from '../peers/servers.js'
import { SqlitePeer } from '../peers/sqlite.js'
import { okRow, type Row } from '../lib/result.js'
import { atLeastTarget, peerRow, ratioTarget, type Scenario, type ScenarioContext, type ScenarioOutput } from '../lib/scenario.js'
import { formatBytesPerSec, formatCount, GiB, MiB, nowMs, secondsSince, syncDisk } from '../lib/stats.js'
import { asPairs, batchesFor, framedBatch, makeRecords, payloadBytes, rawWrite } from '../lib/workload.js'

interface AppendShape {
  valueBytes: number
  perBatch: number
  totalBytes: number
  peerBytes: number
  peerSeconds: number
}

async function seglogAppend(ctx: ScenarioContext, records: readonly RecordInput[], batches: number, framedBytes: number, label: string): Promise<Row> {
  syncDisk()
  const p = await Partition.open(path.join(ctx.dir, 'seglog'), { fsync: 'never' })
  const start = nowMs()
  for (let i = 0; i < batches; i++) await p.append(records)
  const seconds = secondsSince(start)
  await p.close()
  return okRow({ system: 'seglog', role: 'seglog', label, durability: "fsync 'never'", seconds, records: batches * records.length, bytes: batches * framedBytes, ops: batches })
}

/** Run `batch()` until `bytesMax` of payload or `seconds`, then build the row. */
async function peerLoop(records: readonly RecordInput[], bytesMax: number, seconds: number, batch: () => Promise<void> | void): Promise<{ seconds: number; records: number; bytes: number; ops: number }> {
  const perBatch = payloadBytes(records)
  const batches = batchesFor(bytesMax, perBatch)
  const deadline = nowMs() + seconds * 1000
  const start = nowMs()
  let done = 0
  while (done < batches) {
    await batch()
    done++
    if (nowMs() > deadline) break
  }
  return { seconds: secondsSince(start), records: done * records.length, bytes: done * perBatch, ops: done }
}

async function appendPeers(ctx: ScenarioContext, records: readonly RecordInput[], shape: AppendShape): Promise<Row[]> {
  const pairs = asPairs(records)
  const values = pairs.map(([, v]) => v)
  const label = `${records.length} × ${shape.valueBytes} B per batch (transaction / pipelined)`
  const rows: Row[] = []
  rows.push(
    await peerRow(ctx, 'sqlite', label, 'WAL, synchronous=NORMAL', async () => {
      syncDisk()
      const db = SqlitePeer.open(ctx.dir, 'NORMAL')
      try {
        const m = await peerLoop(records, shape.peerBytes, shape.peerSeconds, () => db.insertBatch(pairs))
        return okRow({ system: 'sqlite', role: 'peer', label: `${label}; SQLite ${db.version}`, durability: 'WAL, synchronous=NORMAL', ...m })
      } finally {
        db.close()
      }
    }),
  )
  rows.push(
    await peerRow(ctx, 'nats', label, 'JetStream file store (no per-message fsync in 2.9)', async () => {
      const server = await startNats(path.join(ctx.dir, 'nats'))
      try {
        syncDisk()
        const nats = await NatsPeer.open(server.port, 'bench')
        try {
          const m = await peerLoop(records, shape.peerBytes, shape.peerSeconds, () => nats.publishBatch(values))
          return okRow({ system: 'nats', role: 'peer', label, durability: 'JetStream file store (no per-message fsync in 2.9)', ...m })
        } finally {
          await nats.close()
        }
      } finally {
        await server.stop()
      }
    }),
  )
  rows.push(
    await peerRow(ctx, 'redis', label, 'AOF, appendfsync everysec', async () => {
      const server = await startRedis(path.join(ctx.dir, 'redis'), 'everysec')
      try {
        syncDisk()
        const redis = await RedisPeer.open(server.port, 'bench')
        try {
          const m = await peerLoop(records, shape.peerBytes, shape.peerSeconds, () => redis.addBatch(values))
          return okRow({ system: 'redis', role: 'peer', label, durability: 'AOF, appendfsync everysec', ...m })
        } finally {
          await redis.close()
        }
      } finally {
        await server.stop()
      }
    }),
  )
  return rows
}

async function runAppend(ctx: ScenarioContext, shape: AppendShape): Promise<{ rows: Row[]; seglog: Row; raw: Row }> {
  const records = makeRecords(shape.perBatch, shape.valueBytes)
  const framed = framedBatch(records)
  const batches = batchesFor(shape.totalBytes, framed.length)
  ctx.log(`  ${batches} batches of ${shape.perBatch} × ${shape.valueBytes} B = ${((batches * framed.length) / MiB).toFixed(0)} MiB`)
  const raw = rawWrite(ctx.dir, framed, batches, shape.perBatch, `fs.writeSync of the same framed batches (${framed.length} B each)`)
  const seglog = await seglogAppend(ctx, records, batches, framed.length, `Partition.append, ${shape.perBatch} × ${shape.valueBytes} B per batch, 1 partition`)
  const rows = [seglog, raw, ...(await appendPeers(ctx, records, shape))]
  return { rows, seglog, raw }
}

export const append1k: Scenario = {
  name: 'append-1k',
  workload: "1 KiB records, 64 per batch, fsync 'never', 1 partition, 1 GiB",
  metric: 'bytesPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const shape = { valueBytes: 1024, perBatch: 64, totalBytes: ctx.quick ? 64 * MiB : GiB, peerBytes: ctx.quick ? 16 * MiB : 256 * MiB, peerSeconds: ctx.quick ? 3 : 15 }
    const { rows, seglog, raw } = await runAppend(ctx, shape)
    const sqlite = rows.find((r) => r.system === 'sqlite' && r.status === 'ok')
    return {
      rows,
      targets: [
        ratioTarget('≥ 0.8 × raw writeSync bytes/s', seglog.bytesPerSec, raw.bytesPerSec, 0.8, (v, r) => `${formatBytesPerSec(v)} = ${(v / r).toFixed(2)} × raw ${formatBytesPerSec(r)}`),
        ratioTarget('≥ 3 × SQLite NORMAL rows/s', seglog.recordsPerSec, sqlite?.recordsPerSec, 3, (v, r) => `${formatCount(v)} records/s = ${(v / r).toFixed(1)} × SQLite ${formatCount(r)} rows/s`),
      ],
      notes: [`peers wrote up to ${shape.peerBytes / MiB} MiB or ${shape.peerSeconds} s each; rates are per record`],
    }
  },
}

export const append100b: Scenario = {
  name: 'append-100b',
  workload: "100 B records, 256 per batch, fsync 'never', 1 partition, 512 MiB",
  metric: 'recordsPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const shape = { valueBytes: 100, perBatch: 256, totalBytes: ctx.quick ? 32 * MiB : 512 * MiB, peerBytes: ctx.quick ? 4 * MiB : 48 * MiB, peerSeconds: ctx.quick ? 3 : 12 }
    const { rows, seglog, raw } = await runAppend(ctx, shape)
    return {
      rows,
      targets: [
        atLeastTarget('≥ 1,000,000 records/s', seglog.recordsPerSec, 1_000_000, (v) => `${formatCount(v)} records/s`),
        ratioTarget('≥ 0.5 × raw bytes/s', seglog.bytesPerSec, raw.bytesPerSec, 0.5, (v, r) => `${formatBytesPerSec(v)} = ${(v / r).toFixed(2)} × raw ${formatBytesPerSec(r)}`),
      ],
      notes: [`peers wrote up to ${shape.peerBytes / MiB} MiB or ${shape.peerSeconds} s each; rates are per record`],
    }
  },
}
