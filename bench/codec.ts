/** Micro-benchmarks (tinybench): batch encode, check (CRC), decode, CRC-32C alone. */
import { Bench } from 'tinybench'
import { checkBatch, crc32c, decodeRecords, encodeBatch, type RecordInput } from '../src/segment/index.js'

export async function codecBench(): Promise<void> {
  const value = Buffer.alloc(1024, 7)
  const records: RecordInput[] = Array.from({ length: 64 }, (_, i) => ({ key: `key-${i}`, value }))
  const batch = encodeBatch(records)
  const big = Buffer.alloc(1024 * 1024, 3)
  const bench = new Bench({ time: 500 })
  bench
    .add('encodeBatch 64 × 1 KiB', () => {
      encodeBatch(records)
    })
    .add('checkBatch 64 × 1 KiB (CRC)', () => {
      checkBatch(batch, 0, batch.length, 1 << 24)
    })
    .add('decodeRecords 64 × 1 KiB', () => {
      const c = checkBatch(batch, 0, batch.length, 1 << 24)
      if (c.ok) decodeRecords(batch, 0, c.header)
    })
    .add('crc32c 1 MiB', () => {
      crc32c(big)
    })
  await bench.run()
  console.log('\ncodec (tinybench)')
  for (const task of bench.tasks) {
    const r = task.result as { throughput?: { mean: number }; latency?: { mean: number } } | undefined
    const opsPerSec = r?.throughput?.mean ?? 0
    const extra = task.name.startsWith('crc32c') ? `  (${((opsPerSec * 1024 * 1024) / 1e6).toFixed(0)} MB/s)` : `  (${((opsPerSec * 64 * 1024) / 1e6).toFixed(0)} MB/s of values)`
    console.log(`  ${task.name.padEnd(32)} ${opsPerSec.toFixed(0).padStart(10)} ops/s${extra}`)
  }
}
