/**
 * replay (every record of a warm log, CRC checked, yielded by Partition.records) beside raw
 * `readSync` and one CRC-32C pass over the same bytes; random-read (Partition.read by offset
 * through the sparse index) beside SQLite primary-key lookups.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Partition } from '../../src/seglog.js'
import { crc32c } from '../../src/segment/index.js'
import { SqlitePeer } from '../peers/sqlite.js'
import { okRow, type Row } from '../lib/result.js'
import { atLeastTarget, atMostTarget, peerRow, ratioTarget, type Scenario, type ScenarioContext, type ScenarioOutput } from '../lib/scenario.js'
import { formatBytesPerSec, formatCount, formatMs, GiB, KiB, MiB, nowMs, Samples, secondsSince, syncDisk } from '../lib/stats.js'
import { asPairs, batchesFor, fillPartition, framedBatch, logFiles, makeRecords, readFiles } from '../lib/workload.js'

async function replay(dir: string, label: string): Promise<Row> {
  const p = await Partition.openReadOnly(dir)
  try {
    let records = 0
    let valueBytes = 0
    const start = nowMs()
    for await (const r of p.records({ from: 0 })) {
      records++
      valueBytes += r.value === null ? 0 : r.value.length
    }
    const seconds = secondsSince(start)
    const bytes = logFiles(dir).reduce((sum, f) => sum + fs.statSync(f).size, 0)
    return okRow({ system: 'seglog', role: 'seglog', label, durability: 'read', seconds, records, bytes, extra: { valueBytes } })
  } finally {
    await p.close()
  }
}

function rawRead(dir: string, crc: boolean, records: number, label: string): Row {
  const files = logFiles(dir)
  readFiles(files, false) // warm
  const start = nowMs()
  const bytes = readFiles(files, crc)
  return okRow({ system: 'raw', role: 'baseline', label, durability: 'read', seconds: secondsSince(start), bytes, records })
}

/** One CRC-32C pass over `bytes` bytes held in memory (64 MiB, larger than the CPU caches). */
function rawCrc(bytes: number, records: number): Row {
  const region = Buffer.alloc(Math.min(64 * MiB, bytes), 0x5a)
  const start = nowMs()
  let done = 0
  while (done < bytes) {
    for (let at = 0; at < region.length && done < bytes; at += MiB) {
      crc32c(region.subarray(at, Math.min(at + MiB, region.length)))
      done += Math.min(MiB, region.length - at)
    }
  }
  return okRow({ system: 'raw', role: 'baseline', label: 'CRC-32C of the same bytes in memory, 1 MiB per call', durability: 'memory', seconds: secondsSince(start), bytes: done, records })
}

export const replayScenario: Scenario = {
  name: 'replay',
  workload: 'warm log, every batch CRC-checked and every record yielded: 1 GiB of 1 KiB records (64 per batch) and 256 MiB of 100 B records (256 per batch)',
  metric: 'bytesPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const bigDir = path.join(ctx.dir, 'big')
    const smallDir = path.join(ctx.dir, 'small')
    const big = makeRecords(64, KiB)
    const small = makeRecords(256, 100)
    ctx.log('  writing the logs')
    const bigRecords = await fillPartition(bigDir, big, batchesFor(ctx.quick ? 64 * MiB : GiB, framedBatch(big).length))
    const smallRecords = await fillPartition(smallDir, small, batchesFor(ctx.quick ? 32 * MiB : 256 * MiB, framedBatch(small).length))
    syncDisk()
    const rawBig = rawRead(bigDir, false, bigRecords, 'readSync, 1 MiB chunks (1 KiB-record log)')
    const rawBigCrc = rawRead(bigDir, true, bigRecords, 'readSync + CRC-32C, 1 MiB chunks (1 KiB-record log)')
    const crcOnly = rawCrc(rawBig.bytes as number, bigRecords)
    const seglogBig = await replay(bigDir, 'Partition.records(), 1 KiB records, 64 per batch')
    const rawSmall = rawRead(smallDir, true, smallRecords, 'readSync + CRC-32C, 1 MiB chunks (100 B-record log)')
    const seglogSmall = await replay(smallDir, 'Partition.records(), 100 B records, 256 per batch')
    const peerBytes = ctx.quick ? 16 * MiB : 256 * MiB
    const sqlite = await peerRow(ctx, 'sqlite', 'SELECT … ORDER BY offset over 1 KiB rows', 'WAL, synchronous=NORMAL', async () => {
      const db = SqlitePeer.open(ctx.dir, 'NORMAL')
      try {
        const pairs = asPairs(big)
        for (let i = 0; i < batchesFor(peerBytes, 64 * KiB); i++) db.insertBatch(pairs)
        syncDisk()
        db.scan() // warm
        const start = nowMs()
        const [rows, bytes] = db.scan()
        return okRow({ system: 'sqlite', role: 'peer', label: `SELECT … ORDER BY offset over ${formatCount(rows)} 1 KiB rows; SQLite ${db.version}`, durability: 'WAL, synchronous=NORMAL', seconds: secondsSince(start), records: rows, bytes })
      } finally {
        db.close()
      }
    })
    const limit = Math.min(rawBig.bytesPerSec as number, crcOnly.bytesPerSec as number)
    return {
      rows: [seglogBig, rawBig, rawBigCrc, crcOnly, seglogSmall, rawSmall, sqlite],
      targets: [
        ratioTarget('≥ 0.5 × min(raw read, raw CRC) bytes/s (1 KiB records)', seglogBig.bytesPerSec, limit, 0.5, (v, r) => `${formatBytesPerSec(v)} = ${(v / r).toFixed(2)} × ${formatBytesPerSec(r)}`),
        atLeastTarget('≥ 3 M records/s (100 B records)', seglogSmall.recordsPerSec, 3e6, (v) => `${formatCount(v)} records/s`),
        atLeastTarget('≥ 3 M records/s (1 KiB records)', seglogBig.recordsPerSec, 3e6, (v) => `${formatCount(v)} records/s`),
      ],
      notes: ['SQLite scans a smaller table (its rate is per row); bytes/s counts .log file bytes for seglog and raw, value bytes for SQLite'],
    }
  },
}

/** Random lookups by offset through `p.read`; checks each lookup found its record. */
function lookups(p: Partition, total: number, count: number, seconds: number): { seconds: number; ops: number; samples: Samples } {
  const samples = new Samples()
  const deadline = nowMs() + seconds * 1000
  let seed = 12345
  const start = nowMs()
  let ops = 0
  while (ops < count) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    const offset = seed % total
    const t = nowMs()
    const { records } = p.read({ from: offset, maxBytes: 1 })
    const found = records[0]
    samples.add(nowMs() - t)
    if (found?.offset !== offset) throw new Error(`lookup of offset ${offset} found ${found?.offset}`)
    ops++
    if ((ops & 63) === 0 && nowMs() > deadline) break
  }
  return { seconds: secondsSince(start), ops, samples }
}

export const randomRead: Scenario = {
  name: 'random-read',
  workload: 'random offsets read through the sparse index, warm: 2 GiB of 1 KiB records in 64-record batches, and 512 MiB in 1-record batches',
  metric: 'opsPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const count = ctx.quick ? 20_000 : 300_000
    const seconds = ctx.quick ? 2 : 8
    const batched = makeRecords(64, KiB)
    const single = makeRecords(1, KiB)
    const bigDir = path.join(ctx.dir, 'big')
    const singleDir = path.join(ctx.dir, 'single')
    ctx.log('  writing the logs')
    const bigRecords = await fillPartition(bigDir, batched, batchesFor(ctx.quick ? 128 * MiB : 2 * GiB, framedBatch(batched).length))
    const singleRecords = await fillPartition(singleDir, single, batchesFor(ctx.quick ? 32 * MiB : 512 * MiB, framedBatch(single).length))
    syncDisk()
    readFiles(logFiles(bigDir), false) // warm
    readFiles(logFiles(singleDir), false)
    const rows: Row[] = []
    for (const [dir, total, label] of [
      [bigDir, bigRecords, '64-record batches'],
      [singleDir, singleRecords, '1-record batches'],
    ] as const) {
      const p = await Partition.openReadOnly(dir)
      try {
        lookups(p, total, 2000, 1) // warm the indexes and the JIT
        const m = lookups(p, total, count, seconds)
        rows.push(okRow({ system: 'seglog', role: 'seglog', label: `Partition.read({ from: random offset }), ${formatCount(total)} records in ${label}`, durability: 'read', seconds: m.seconds, ops: m.ops, records: m.ops, latencyMs: m.samples.latency() }))
      } finally {
        await p.close()
      }
    }
    const raw = (() => {
      // The physical floor of one lookup: pread of one 64-record batch at a random position.
      const file = logFiles(bigDir)[0] as string
      const size = fs.statSync(file).size
      const batch = framedBatch(batched).length
      const buf = Buffer.allocUnsafe(batch)
      const fd = fs.openSync(file, 'r')
      const samples = new Samples()
      let seed = 99
      const start = nowMs()
      for (let i = 0; i < count; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        const t = nowMs()
        fs.readSync(fd, buf, 0, batch, (seed % Math.max(1, Math.floor(size / batch) - 1)) * batch)
        samples.add(nowMs() - t)
        if ((i & 63) === 0 && secondsSince(start) > seconds) break
      }
      fs.closeSync(fd)
      return okRow({ system: 'raw', role: 'baseline', label: `pread of one ${batch} B batch at a random batch position`, durability: 'read', seconds: secondsSince(start), ops: samples.count, latencyMs: samples.latency() })
    })()
    rows.push(raw)
    const sqliteRows = ctx.quick ? 128 * 1024 : 2 * 1024 * 1024
    const sqlite = await peerRow(ctx, 'sqlite', 'SELECT value WHERE offset = ? (primary key)', 'WAL, synchronous=NORMAL', async () => {
      const db = SqlitePeer.open(ctx.dir, 'NORMAL')
      try {
        const pairs = asPairs(batched)
        ctx.log(`  loading ${formatCount(sqliteRows)} SQLite rows`)
        while (db.rows < sqliteRows) db.insertBatch(pairs)
        syncDisk()
        db.scan() // warm
        const samples = new Samples()
        let seed = 12345
        const start = nowMs()
        for (let i = 0; i < count; i++) {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff
          const t = nowMs()
          if (db.get(seed % db.rows) < 0) throw new Error('row missing')
          samples.add(nowMs() - t)
          if ((i & 63) === 0 && secondsSince(start) > seconds) break
        }
        return okRow({ system: 'sqlite', role: 'peer', label: `SELECT value WHERE offset = ? over ${formatCount(db.rows)} 1 KiB rows; SQLite ${db.version}`, durability: 'WAL, synchronous=NORMAL', seconds: secondsSince(start), ops: samples.count, records: samples.count, latencyMs: samples.latency() })
      } finally {
        db.close()
      }
    })
    rows.push(sqlite)
    const [big, one] = rows as [Row, Row]
    const sqliteRate = sqlite.status === 'ok' ? sqlite.opsPerSec : undefined
    return {
      rows,
      targets: [
        ratioTarget('64-record batches: ≥ SQLite primary-key lookups/s', big.opsPerSec, sqliteRate, 1, (v, r) => `${formatCount(v)}/s = ${(v / r).toFixed(2)} × SQLite ${formatCount(r)}/s`),
        atMostTarget('64-record batches: p99 ≤ 50 µs', big.latencyMs?.p99, 0.05, (v) => `p99 ${formatMs(v)}`),
        ratioTarget('1-record batches: ≥ SQLite primary-key lookups/s', one.opsPerSec, sqliteRate, 1, (v, r) => `${formatCount(v)}/s = ${(v / r).toFixed(2)} × SQLite ${formatCount(r)}/s`),
        atMostTarget('1-record batches: p99 ≤ 50 µs', one.latencyMs?.p99, 0.05, (v) => `p99 ${formatMs(v)}`),
      ],
      notes: ['a lookup returns the whole batch holding the offset (read, CRC-checked, decoded): its cost grows with the batch size'],
    }
  },
}
