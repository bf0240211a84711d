/**
 * Media corruption in the middle of the sealed segment: one flipped bit in a batch that more than
 * maxUnsyncedBytes of valid batches follow, further back than a crash can tear. Open refuses it
 * with ERR_CORRUPT_RECORD naming the file and position; the clean-shutdown shortcut does not hide
 * it; `repair: true` drops only the damaged batch and keeps everything after it under its offsets.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest'
import {
  Bench,
  bitsOf,
  expectMarkerDoesNotHide,
  expectOpenRefuses,
  expectRepairKeepsTheRest,
  forEachBit,
  inEpoch,
  logWithSmallBatch,
  UNCOVERED,
  type Damaged,
} from './corruption-bench.js'
import { removeTempDirs } from './helpers.js'

afterEach(removeTempDirs)

const LAYOUT = 'sealed' as const
// A sealed segment below the recovery point is trusted by a plain crash recovery (as Kafka's is):
// the damage is in scope of an open only when recovery starts before it, as with no
// recovery-point checkpoint (a crash before the first one, or a recovery from scratch).
const REMOVE: string[] = ['recovery-point']

/** Bits of the fields outside the CRC (baseOffset, batchLength, magic, crc), every one; the epoch is tested apart. */
const UNCOVERED_BITS = bitsOf(0, 21).filter(([byte]) => !inEpoch(byte))
/**
 * Every bit of baseOffset, batchLength and magic, one bit per byte of the crc field (a wrong stored
 * CRC fails alike whichever bit it is): for the checks that cost an open and a close per bit.
 */
const HEADER_BITS = UNCOVERED_BITS.filter(([byte, bit]) => byte < UNCOVERED.crc[0] || bit === byte % 8)
/**
 * One bit of every CRC-covered byte, the bit position turning with the byte: CRC-32C catches every
 * single-bit error alike, so where an open or a repair costs a few fsyncs this covers them.
 */
const coveredBytes = (size: number): Array<[number, number]> => Array.from({ length: size - 21 }, (_, i): [number, number] => [21 + i, i % 8])

describe('Partition open with a flipped bit in a batch in the middle of the sealed segment, valid batches after it', () => {
  // One log, shared by the tests below (each damages its own working copy of it).
  let log: Damaged
  beforeAll(async () => {
    log = await logWithSmallBatch(LAYOUT, 1500, fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-')))
  })
  afterAll(() => fs.rmSync(log.dir, { recursive: true, force: true }))

  // Every bit is flipped in the active segment's test; CRC-32C catches each alike, so here one per byte.
  it('refuses to open with ERR_CORRUPT_RECORD at the damaged batch, for a bit of every CRC-covered byte', async () => {
    const bench = new Bench(log)
    await forEachBit(coveredBytes(log.batch.size), (byte, bit, what) => expectOpenRefuses(bench, byte, bit, REMOVE, what))
  })

  for (const [field, [from, to]] of Object.entries(UNCOVERED)) {
    if (field === 'partitionLeaderEpoch') continue
    it(`refuses to open with ERR_CORRUPT_RECORD at the damaged batch, for every bit of ${field} (not CRC-covered)`, async () => {
      const bench = new Bench(log)
      await forEachBit(bitsOf(from, to), (byte, bit, what) => expectOpenRefuses(bench, byte, bit, REMOVE, what))
    })
  }

  it('does not hide the damage behind the clean-shutdown marker: open or reading across it fails with ERR_CORRUPT_RECORD', async () => {
    const bench = new Bench(log)
    await forEachBit([...HEADER_BITS, ...coveredBytes(log.batch.size)], (byte, bit, what) =>
      expectMarkerDoesNotHide(bench, byte, bit, `${what}, clean-shutdown marker present`),
    )
  })

  it('repairs by dropping only the damaged batch and keeping every valid batch after it (CRC-covered bytes)', async () => {
    const bench = new Bench(log)
    await forEachBit(coveredBytes(log.batch.size), (byte, bit, what) => expectRepairKeepsTheRest(bench, byte, bit, REMOVE, `${what}, repair`, byte === 40))
  })

  it('repairs by dropping only the damaged batch, for every bit of baseOffset, batchLength and magic, and a bit of each crc byte', async () => {
    const bench = new Bench(log)
    await forEachBit(HEADER_BITS, (byte, bit, what) => expectRepairKeepsTheRest(bench, byte, bit, REMOVE, `${what}, repair`, bit === 7))
  })
})
