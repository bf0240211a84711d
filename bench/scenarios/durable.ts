/**
 * Durable appends (fsync 'always'): fsync-each (one awaited send at a time), group-commit (64
 * concurrent senders sharing fsyncs) and batch-sweep (one batch per fsync, 1 … 1024 records),
 * each beside a raw write + fdatasync loop of the same bytes and, where it applies, SQLite
 * synchronous=FULL and Redis appendfsync always.
 */
import path from 'node:path'
import { Log, Partition } from '../../src/seglog.js'
import type { RecordInput } from '../../src/segment/index.js'
import { NatsPeer } from '../peers/nats.js'
import { RedisPeer } from '../peers/redis.js'
import { startNats, startRedis } from '../peers/servers.js'
import { SqlitePeer } from '../peers/sqlite.js'
import { okRow, type Row, type TargetCheck } from '../lib/result.js'
import { atMostTarget, peerRow, ratioTarget, type Scenario, type ScenarioContext, type ScenarioOutput } from '../lib/scenario.js'
import { formatCount, formatMs, KiB, nowMs, Samples, secondsSince, syncDisk } from '../lib/stats.js'
import { asPairs, framedBatch, makeRecords, rawWriteSync } from '../lib/workload.js'

const ALWAYS = "fsync 'always'"

/** `senders` loops each awaiting `op()` until `count` ops in all or `seconds`; per-op latency. */
async function concurrently(senders: number, count: number, seconds: number, op: () => Promise<unknown>): Promise<{ seconds: number; ops: number; samples: Samples }> {
  const samples = new Samples()
  const deadline = nowMs() + seconds * 1000
  let issued = 0
  const start = nowMs()
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (issued < count && nowMs() < deadline) {
        issued++
        const t = nowMs()
        await op()
        samples.add(nowMs() - t)
      }
    }),
  )
  return { seconds: secondsSince(start), ops: samples.count, samples }
}

async function withLog<T>(ctx: ScenarioContext, name: string, fn: (send: (r: RecordInput) => Promise<unknown>) => Promise<T>): Promise<T> {
  syncDisk()
  const log = await Log.open(path.join(ctx.dir, name))
  try {
    await log.createTopic('bench', { partitions: 1, fsync: 'always' })
    const producer = log.producer()
    return await fn((r) => producer.send('bench', r))
  } finally {
    await log.close()
  }
}

async function withPartition<T>(ctx: ScenarioContext, name: string, fn: (p: Partition) => Promise<T>): Promise<T> {
  syncDisk()
  const p = await Partition.open(path.join(ctx.dir, name), { fsync: 'always' })
  try {
    return await fn(p)
  } finally {
    await p.close()
  }
}

function durableRow(system: 'seglog', label: string, m: { seconds: number; ops: number; samples: Samples }, recordsPerOp: number, bytesPerOp: number): Row {
  return okRow({ system, role: 'seglog', label, durability: ALWAYS, seconds: m.seconds, ops: m.ops, records: m.ops * recordsPerOp, bytes: m.ops * bytesPerOp, latencyMs: m.samples.latency() })
}

async function redisRow(ctx: ScenarioContext, label: string, senders: number, count: number, seconds: number, value: Buffer): Promise<Row> {
  return peerRow(ctx, 'redis', label, 'AOF, appendfsync always', async () => {
    const server = await startRedis(path.join(ctx.dir, 'redis'), 'always')
    try {
      syncDisk()
      const redis = await RedisPeer.open(server.port, 'bench')
      try {
        const m = await concurrently(senders, count, seconds, () => redis.add(value))
        return okRow({ system: 'redis', role: 'peer', label, durability: 'AOF, appendfsync always', seconds: m.seconds, ops: m.ops, records: m.ops, bytes: m.ops * value.length, latencyMs: m.samples.latency() })
      } finally {
        await redis.close()
      }
    } finally {
      await server.stop()
    }
  })
}

export const fsyncEach: Scenario = {
  name: 'fsync-each',
  workload: "1 KiB records, one awaited send at a time, fsync 'always'",
  metric: 'opsPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const count = ctx.quick ? 1500 : 20_000
    const seconds = ctx.quick ? 1.5 : 6
    const [record] = makeRecords(1, KiB) as [RecordInput]
    const framed = framedBatch([record])
    const raw = rawWriteSync(ctx.dir, framed, count, seconds, 1, `write ${framed.length} B + fdatasync, one at a time`)
    const producer = await withLog(ctx, 'log', async (send) => {
      await send(record)
      const m = await concurrently(1, count, seconds, () => send(record))
      return durableRow('seglog', 'Producer.send, one awaited at a time', m, 1, framed.length)
    })
    const partition = await withPartition(ctx, 'p', async (p) => {
      const m = await concurrently(1, count, seconds, () => p.append([record]))
      return durableRow('seglog', 'Partition.append of 1 record, one awaited at a time', m, 1, framed.length)
    })
    const pair = asPairs([record])[0] as readonly [Buffer, Buffer]
    const sqlite = await peerRow(ctx, 'sqlite', 'one row per transaction, one at a time', 'WAL, synchronous=FULL', async () => {
      syncDisk()
      const db = SqlitePeer.open(ctx.dir, 'FULL')
      try {
        const m = await concurrently(1, count, seconds, async () => db.insertOne(pair[0], pair[1]))
        return okRow({ system: 'sqlite', role: 'peer', label: `one row per transaction, one at a time; SQLite ${db.version}`, durability: 'WAL, synchronous=FULL', seconds: m.seconds, ops: m.ops, records: m.ops, bytes: m.ops * KiB, latencyMs: m.samples.latency() })
      } finally {
        db.close()
      }
    })
    const redis = await redisRow(ctx, 'XADD, one awaited at a time', 1, count, seconds, pair[1])
    const nats = await peerRow(ctx, 'nats', 'JetStream publish, one awaited at a time', 'file store, no per-message fsync in 2.9 (not durable per ack)', async () => {
      const server = await startNats(path.join(ctx.dir, 'nats'))
      try {
        const nats = await NatsPeer.open(server.port, 'bench')
        try {
          const m = await concurrently(1, count, seconds, () => nats.publish(pair[1]))
          return okRow({ system: 'nats', role: 'peer', label: 'JetStream publish, one awaited at a time', durability: 'file store, no per-message fsync in 2.9 (not durable per ack)', seconds: m.seconds, ops: m.ops, records: m.ops, bytes: m.ops * KiB, latencyMs: m.samples.latency() })
        } finally {
          await nats.close()
        }
      } finally {
        await server.stop()
      }
    })
    const targets: TargetCheck[] = []
    for (const row of [producer, partition]) {
      const name = row.label.split(',')[0] as string
      targets.push(ratioTarget(`${name}: ≥ 0.9 × raw write+fdatasync/s`, row.opsPerSec, raw.opsPerSec, 0.9, (v, r) => `${formatCount(v)}/s = ${(v / r).toFixed(2)} × raw ${formatCount(r)}/s`))
      targets.push(ratioTarget(`${name}: ≥ SQLite FULL`, row.opsPerSec, sqlite.status === 'ok' ? sqlite.opsPerSec : undefined, 1, (v, r) => `${formatCount(v)}/s = ${(v / r).toFixed(2)} × SQLite ${formatCount(r)}/s`))
    }
    return { rows: [producer, partition, raw, sqlite, redis, nats], targets, notes: ['NATS is shown for reference: nats-server 2.9 acknowledges before any fsync'] }
  },
}

export const groupCommit: Scenario = {
  name: 'group-commit',
  workload: "64 concurrent senders awaiting durable acks, 1 KiB records, fsync 'always'",
  metric: 'recordsPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const senders = 64
    const count = ctx.quick ? 30_000 : 1_000_000
    const seconds = ctx.quick ? 2 : 8
    const [record] = makeRecords(1, KiB) as [RecordInput]
    const framed = framedBatch([record])
    const records64 = makeRecords(senders, KiB)
    const framed64 = framedBatch(records64)
    const raw = rawWriteSync(ctx.dir, framed64, count, seconds, senders, `write ${framed64.length} B (64 records) + fdatasync, one at a time`)
    const rawOne = rawWriteSync(ctx.dir, framed, count, ctx.quick ? 1 : 3, 1, `write ${framed.length} B + fdatasync, one at a time`)
    const [producer, producerOne] = await withLog(ctx, 'log', async (send) => {
      await send(record)
      const one = await concurrently(1, count, ctx.quick ? 1 : 3, () => send(record))
      const many = await concurrently(senders, count, seconds, () => send(record))
      return [durableRow('seglog', `Producer.send, ${senders} concurrent senders`, many, 1, framed.length), durableRow('seglog', 'Producer.send, one awaited at a time (fsync-each, for the ratio)', one, 1, framed.length)]
    })
    const partition = await withPartition(ctx, 'p', async (p) => {
      const m = await concurrently(senders, count, seconds, () => p.append([record]))
      return durableRow('seglog', `Partition.append of 1 record, ${senders} concurrent callers`, m, 1, framed.length)
    })
    const pairs = asPairs(records64)
    const sqlite = await peerRow(ctx, 'sqlite', `${senders} rows per transaction (one connection cannot commit concurrently)`, 'WAL, synchronous=FULL', async () => {
      syncDisk()
      const db = SqlitePeer.open(ctx.dir, 'FULL')
      try {
        const m = await concurrently(1, count, seconds, async () => db.insertBatch(pairs))
        return okRow({ system: 'sqlite', role: 'peer', label: `${senders} rows per transaction (one connection cannot commit concurrently); SQLite ${db.version}`, durability: 'WAL, synchronous=FULL', seconds: m.seconds, ops: m.ops, records: m.ops * senders, bytes: m.ops * senders * KiB, latencyMs: m.samples.latency() })
      } finally {
        db.close()
      }
    })
    const redis = await redisRow(ctx, `XADD, ${senders} concurrent senders on one connection`, senders, count, seconds, pairs[0]?.[1] as Buffer)
    const rawRecords = (raw.opsPerSec as number) * senders
    const targets: TargetCheck[] = []
    for (const row of [producer, partition]) {
      const name = row.label.split(',')[0] as string
      targets.push(ratioTarget(`${name}: ≥ 0.75 × (raw 64 KiB write+fdatasync/s × 64)`, row.recordsPerSec, rawRecords, 0.75, (v, r) => `${formatCount(v)} records/s = ${(v / r).toFixed(2)} × ${formatCount(r)}`))
    }
    targets.push(ratioTarget('Producer.send: ≥ 25 × fsync-each', producer.recordsPerSec, producerOne.recordsPerSec, 25, (v, r) => `${formatCount(v)}/s = ${(v / r).toFixed(1)} × one-at-a-time ${formatCount(r)}/s`))
    targets.push(ratioTarget('Producer.send: ≥ 25 × raw fsync-each', producer.recordsPerSec, rawOne.opsPerSec, 25, (v, r) => `${formatCount(v)}/s = ${(v / r).toFixed(1)} × raw one-at-a-time ${formatCount(r)}/s`))
    for (const row of [producer, partition]) {
      targets.push(atMostTarget(`${row.label.split(',')[0] as string}: p99 ≤ 2 ms`, row.latencyMs?.p99, 2, (v) => `p99 ${formatMs(v)} (p50 ${formatMs(row.latencyMs?.p50 ?? 0)})`))
    }
    return { rows: [producer, partition, producerOne, raw, rawOne, sqlite, redis], targets, notes: [] }
  },
}

export const batchSweep: Scenario = {
  name: 'batch-sweep',
  workload: "1 KiB records in batches of 1/8/64/256/1024, one fsync per batch (fsync 'always'), one batch at a time",
  metric: 'bytesPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const seconds = ctx.quick ? 0.5 : 3
    const rows: Row[] = []
    const targets: TargetCheck[] = []
    for (const size of [1, 8, 64, 256, 1024]) {
      const records = makeRecords(size, KiB)
      const framed = framedBatch(records)
      ctx.log(`  batch of ${size}`)
      const raw = rawWriteSync(ctx.dir, framed, 1e9, seconds, size, `batch of ${size}: write ${framed.length} B + fdatasync`)
      const seglog = await withPartition(ctx, `p${size}`, async (p) => {
        const m = await concurrently(1, 1e9, seconds, () => p.append(records))
        return durableRow('seglog', `batch of ${size}: Partition.append`, m, size, framed.length)
      })
      rows.push(seglog, raw)
      targets.push(ratioTarget(`batch of ${size}: ≥ 0.8 × raw`, seglog.opsPerSec, raw.opsPerSec, 0.8, (v, r) => `${formatCount(v)} batches/s = ${(v / r).toFixed(2)} × raw ${formatCount(r)}/s`))
    }
    return { rows, targets, notes: [] }
  },
}
