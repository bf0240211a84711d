/**
 * Append and replay throughput on local disk, each beside its raw baseline in the same run:
 * - append: Partition.append of 64 × 1 KiB batches (fsync 'never') vs fs.writeSync of the very
 *   same framed batch bytes in the same chunk sizes;
 * - replay: Partition.records() (CRC checked, every record yielded) vs fs.readSync of the file
 *   plus one CRC-32C pass over it;
 * - fsync-each and group commit: fsync 'always' appends vs a raw write+fdatasync loop.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Partition } from '../src/partition/index.js'
import { crc32c, encodeBatch, type RecordInput } from '../src/segment/index.js'
import { tempDir } from './machine.js'

const MB = 1e6

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9
}

function report(name: string, bytes: number, records: number, secs: number, baseline?: { name: string; bytesPerSec: number }): void {
  const bps = bytes / secs
  const ratio = baseline === undefined ? '' : `  = ${(bps / baseline.bytesPerSec).toFixed(2)} × ${baseline.name}`
  console.log(`  ${name.padEnd(34)} ${(bps / MB).toFixed(0).padStart(6)} MB/s ${(records / secs / 1e3).toFixed(0).padStart(8)} k records/s${ratio}`)
}

export async function throughputBench(totalBytes: number): Promise<void> {
  const dir = tempDir('seglog-bench-')
  try {
    const recordsPerBatch = 64
    const value = Buffer.alloc(1024, 0x61)
    const records: RecordInput[] = Array.from({ length: recordsPerBatch }, (_, i) => ({ key: `key-${i}`, value }))
    const batchBytes = encodeBatch(records).length
    const batches = Math.max(1, Math.floor(totalBytes / batchBytes))
    const recordCount = batches * recordsPerBatch
    console.log(`\nthroughput: ${batches} batches of ${recordsPerBatch} × 1 KiB (${((batches * batchBytes) / MB).toFixed(0)} MB), folder ${dir}`)

    // Raw baseline: the same framed bytes, written with writeSync in the same chunk sizes.
    const framed = encodeBatch(records)
    const rawFile = path.join(dir, 'raw.bin')
    const fd = fs.openSync(rawFile, 'w')
    let start = process.hrtime.bigint()
    for (let i = 0; i < batches; i++) fs.writeSync(fd, framed)
    const rawWriteSecs = seconds(start)
    fs.closeSync(fd)
    const rawWrite = { name: 'raw writeSync', bytesPerSec: (batches * batchBytes) / rawWriteSecs }
    report('raw writeSync (same bytes)', batches * batchBytes, recordCount, rawWriteSecs)

    const partitionDir = path.join(dir, 'p')
    const p = await Partition.open(partitionDir, { fsync: 'never' })
    start = process.hrtime.bigint()
    for (let i = 0; i < batches; i++) await p.append(records)
    const appendSecs = seconds(start)
    report("append (fsync 'never')", batches * batchBytes, recordCount, appendSecs, rawWrite)
    await p.close()

    // Replay, warm: raw read + one CRC pass vs records() yielding every record.
    const chunk = Buffer.allocUnsafe(1024 * 1024)
    const rfd = fs.openSync(rawFile, 'r')
    start = process.hrtime.bigint()
    let pos = 0
    for (;;) {
      const n = fs.readSync(rfd, chunk, 0, chunk.length, pos)
      if (n === 0) break
      crc32c(chunk.subarray(0, n))
      pos += n
    }
    const rawReadSecs = seconds(start)
    fs.closeSync(rfd)
    const rawRead = { name: 'raw read+CRC', bytesPerSec: pos / rawReadSecs }
    report('raw readSync + CRC-32C', pos, recordCount, rawReadSecs)

    const reader = await Partition.open(partitionDir, { fsync: 'never' })
    start = process.hrtime.bigint()
    let seen = 0
    for await (const r of reader.records({ from: 0 })) if (r.value !== null) seen++
    const replaySecs = seconds(start)
    if (seen !== recordCount) throw new Error(`replay saw ${seen} records, expected ${recordCount}`)
    report('replay records() (CRC checked)', batches * batchBytes, recordCount, replaySecs, rawRead)
    await reader.close()

    // Durable appends: one at a time, and 64 concurrent senders (group commit).
    const one: RecordInput[] = [{ value }]
    const syncFile = path.join(dir, 'sync.bin')
    const sfd = fs.openSync(syncFile, 'w')
    const oneBytes = encodeBatch(one)
    const syncs = 500
    start = process.hrtime.bigint()
    for (let i = 0; i < syncs; i++) {
      fs.writeSync(sfd, oneBytes)
      fs.fdatasyncSync(sfd)
    }
    const rawSyncSecs = seconds(start)
    fs.closeSync(sfd)
    console.log(`  raw write+fdatasync 1 KiB          ${(syncs / rawSyncSecs).toFixed(0).padStart(6)} /s`)
    const durable = await Partition.open(path.join(dir, 'd'), { fsync: 'always' })
    start = process.hrtime.bigint()
    for (let i = 0; i < syncs; i++) await durable.append(one)
    const eachSecs = seconds(start)
    console.log(`  append fsync 'always', one at a time ${(syncs / eachSecs).toFixed(0).padStart(5)} /s  = ${(rawSyncSecs / eachSecs).toFixed(2)} × raw`)
    const senders = 64
    const perSender = 100
    const latencies: number[] = []
    start = process.hrtime.bigint()
    await Promise.all(
      Array.from({ length: senders }, async () => {
        for (let i = 0; i < perSender; i++) {
          const t = process.hrtime.bigint()
          await durable.append(one)
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6)
        }
      }),
    )
    const groupSecs = seconds(start)
    latencies.sort((a, b) => a - b)
    const pct = (q: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number).toFixed(2)
    console.log(
      `  append fsync 'always', ${senders} senders   ${((senders * perSender) / groupSecs).toFixed(0).padStart(5)} /s  p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms  = ${((senders * perSender) / groupSecs / (syncs / eachSecs)).toFixed(1)} × one at a time`,
    )
    await durable.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
