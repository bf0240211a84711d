/**
 * Shared by the corruption tests: a log with one small batch in the middle of a segment, a bench
 * that damages one bit of it at a time, and the three checks (open refuses, the clean-shutdown
 * marker does not hide the damage, repair keeps everything else).
 */
import fs from 'node:fs'
import path from 'node:path'
import { expect } from 'vitest'
import { CorruptRecordError, Partition, type PartitionOptions } from '../../src/seglog.js'
import { appendNumbered, batchesOf, caught, DirSnapshot, flipBit, numbered, readAll, tempDir } from './helpers.js'

export const MAX_UNSYNCED_BYTES = 1024
export const OPTIONS: PartitionOptions = { segmentBytes: 3000, indexIntervalBytes: 128, maxIndexBytes: 1024, maxUnsyncedBytes: MAX_UNSYNCED_BYTES }

export interface Damaged {
  dir: string
  /** Absolute path of the damaged segment in `dir`. */
  file: string
  batch: { position: number; size: number; baseOffset: number; lastOffset: number }
  logEndOffset: number
}

/**
 * A closed log holding one small batch (one record, 73 bytes) in the middle of a segment, with more than
 * `bytesAfter` bytes of valid batches after it. `where`: in the active segment, or in a sealed
 * segment with the active segment after it.
 */
export async function logWithSmallBatch(where: 'active' | 'sealed', bytesAfter = 1500, dir = tempDir()): Promise<Damaged> {
  const p = await Partition.open(dir, OPTIONS)
  if (where === 'active') while (p.segmentCount < 2) await appendNumbered(p, 1, 3)
  await appendNumbered(p, 5, 3)
  const baseOffset = p.logEndOffset
  await p.append([{ value: `v-${baseOffset}` }])
  const file = p.segments().at(-1)!.file
  const sizeAt = fs.statSync(file).size
  while (fs.statSync(file).size - sizeAt < bytesAfter) await appendNumbered(p, 1, 3)
  if (where === 'sealed') while (p.segmentCount < 2) await appendNumbered(p, 1, 3)
  if (where === 'active') expect(p.segments().at(-1)!.file).toBe(file)
  else expect(p.segments().at(0)!.file).toBe(file)
  const logEndOffset = p.logEndOffset
  await p.close()
  const batch = batchesOf(file).find((b) => b.baseOffset === baseOffset)!
  expect(batch.lastOffset).toBe(baseOffset)
  return { dir, file, batch, logEndOffset }
}

/** The records a repair must keep: every offset of the log except the damaged batch's, with its value. */
export function expectAllBut(records: Awaited<ReturnType<typeof readAll>>, d: Damaged, what: string): void {
  const want = Array.from({ length: d.logEndOffset }, (_, i) => i).filter((o) => o < d.batch.baseOffset || o > d.batch.lastOffset)
  expect(records.map((r) => r.offset), what).toEqual(want)
  for (const r of records) expect(r.value?.toString(), what).toBe(`v-${r.offset}`)
}

export function expectCorruptAt(err: unknown, d: Damaged, file: string, what: string): void {
  expect(err, what).toBeInstanceOf(CorruptRecordError)
  expect((err as CorruptRecordError).code, what).toBe('ERR_CORRUPT_RECORD')
  expect((err as CorruptRecordError).file, what).toBe(file)
  expect((err as CorruptRecordError).position, what).toBe(d.batch.position)
}

/**
 * A working copy of a damaged log's folder that each attempt resets to the undamaged files (only
 * the files that changed are rewritten: copying a folder per bit would make the suite slow).
 */
export class Bench {
  readonly dir: string
  readonly file: string
  #snapshot: DirSnapshot

  constructor(readonly d: Damaged) {
    this.#snapshot = new DirSnapshot(d.dir)
    this.dir = tempDir()
    this.#snapshot.restore(this.dir)
    this.file = path.join(this.dir, path.basename(d.file))
  }

  /** Restore the undamaged files, remove the files named, flip one bit of the small batch. */
  damage(byte: number, bit: number, remove: string[]): void {
    this.#snapshot.restore(this.dir, remove)
    flipBit(this.file, this.d.batch.position + byte, bit)
  }
}

/** Run `check` for every bit; collect every failure, so that a failing test names all the bits that fail. */
export async function forEachBit(bits: Array<[number, number]>, check: (byte: number, bit: number, what: string) => Promise<void>): Promise<void> {
  const failures: string[] = []
  for (const [byte, bit] of bits) {
    const what = `bit ${bit} of byte ${byte}`
    try {
      await check(byte, bit, what)
    } catch (err) {
      failures.push(`${what}: ${(err as Error).message.split('\n')[0]}`)
    }
  }
  expect(failures).toEqual([])
}

/**
 * The byte ranges of a batch header that no CRC covers (see record-batch.ts), by name; everything
 * from byte 21 on is CRC-covered.
 */
export const UNCOVERED = { baseOffset: [0, 8], batchLength: [8, 12], partitionLeaderEpoch: [12, 16], magic: [16, 17], crc: [17, 21] } as const
export const inEpoch = (byte: number): boolean => byte >= UNCOVERED.partitionLeaderEpoch[0] && byte < UNCOVERED.partitionLeaderEpoch[1]

export function bitsOf(from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let byte = from; byte < to; byte++) for (let bit = 0; bit < 8; bit++) out.push([byte, bit])
  return out
}

/** Open without the clean-shutdown marker: must fail, naming the damaged batch. */
export async function expectOpenRefuses(bench: Bench, byte: number, bit: number, remove: string[], what: string): Promise<void> {
  bench.damage(byte, bit, ['clean-shutdown', ...remove])
  const err = await caught(() => Partition.open(bench.dir, OPTIONS).then((p) => p.close()))
  expectCorruptAt(err, bench.d, bench.file, what)
}

/** Open with the clean-shutdown marker: either open fails or reading across the damage does. */
export async function expectMarkerDoesNotHide(bench: Bench, byte: number, bit: number, what: string): Promise<void> {
  bench.damage(byte, bit, [])
  let p: Partition
  try {
    p = await Partition.open(bench.dir, OPTIONS)
  } catch (err) {
    expectCorruptAt(err, bench.d, bench.file, what)
    return
  }
  try {
    const err = await caught(() => readAll(p, 0))
    expectCorruptAt(err, bench.d, bench.file, what)
  } finally {
    await p.close()
  }
}

/**
 * Open with repair: only the damaged batch is lost, reported, and everything else reads back.
 * `thorough` also appends after the gap and reopens.
 */
export async function expectRepairKeepsTheRest(bench: Bench, byte: number, bit: number, remove: string[], what: string, thorough: boolean): Promise<void> {
  const d = bench.d
  bench.damage(byte, bit, ['clean-shutdown', ...remove])
  const p = await Partition.open(bench.dir, { ...OPTIONS, repair: true })
  try {
    expect(p.recovery.repaired, what).toEqual([
      { file: bench.file, position: d.batch.position, bytes: d.batch.size, lostFromOffset: d.batch.baseOffset, lostToOffset: d.batch.lastOffset },
    ])
    expect(p.recovery.truncatedBytes, what).toBe(0)
    expect(p.logEndOffset, what).toBe(d.logEndOffset)
    expectAllBut(await readAll(p, 0), d, what)
    expect(p.read({ from: d.batch.baseOffset }).records[0]?.offset, what).toBe(d.batch.lastOffset + 1)
    // Offsets go on from where they were.
    if (thorough) expect(await p.append(numbered(d.logEndOffset, 1))).toEqual({ baseOffset: d.logEndOffset, lastOffset: d.logEndOffset })
  } finally {
    await p.close()
  }
  if (!thorough) return
  // The repaired log is whole: it reopens without complaint.
  fs.rmSync(path.join(bench.dir, 'clean-shutdown'))
  const again = await Partition.open(bench.dir, OPTIONS)
  expect(again.recovery, what).toMatchObject({ truncatedBytes: 0, repaired: [] })
  expect(again.logEndOffset, what).toBe(d.logEndOffset + 1)
  await again.close()
}
