/**
 * The batch scanner at the end of a file: a torn tail of any length is one `invalid` step, never
 * an exception, whether the file fits in one read chunk or not.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as io from '../../src/file-io.js'
import { scanBatches, type ScanOptions, type ScanStep } from '../../src/segment/batch-scanner.js'
import { encodeBatch } from '../../src/segment/record-batch.js'

let tmp: string
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-scanner-'))
})
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

function scan(bytes: Buffer, options: ScanOptions = {}): ScanStep[] {
  const file = path.join(tmp, 'scan.log')
  fs.writeFileSync(file, bytes)
  const fd = io.open(file, fs.constants.O_RDONLY)
  try {
    return [...scanBatches(fd, options)].map((step) => (step.kind === 'batch' ? { ...step, buffer: Buffer.alloc(0) } : step))
  } finally {
    io.close(fd)
  }
}

const BATCHES = [0, 1, 2].map((i) => encodeBatch([{ value: `value ${i}`, timestamp: i }], { baseOffset: i }))
const LOG = Buffer.concat(BATCHES)

describe('scanBatches at the end of a file', () => {
  // Regression: with fewer than 12 bytes after the last batch, the scanner read the batchLength
  // field past the bytes it had, and threw a RangeError when the file fitted in one chunk.
  it('yields one truncated step for a tail of every length, small file or chunked', () => {
    const lastBatchBytes = BATCHES[2]?.length as number
    for (const chunkBytes of [undefined, 64]) {
      for (let cut = 1; cut < lastBatchBytes; cut++) {
        const torn = LOG.subarray(0, LOG.length - cut)
        const steps = scan(torn, chunkBytes === undefined ? {} : { chunkBytes })
        const where = `cut ${cut}, chunk ${chunkBytes ?? 'default'}`
        expect(steps.filter((s) => s.kind === 'batch').map((s) => s.position), where).toEqual([0, BATCHES[0]?.length])
        expect(steps.at(-1), where).toMatchObject({ kind: 'invalid', problem: 'truncated', position: LOG.length - lastBatchBytes })
      }
    }
  })

  it('yields one invalid step for 1 to 11 garbage bytes after whole batches', () => {
    for (let extra = 1; extra < 12; extra++) {
      const steps = scan(Buffer.concat([LOG, Buffer.alloc(extra, 0x41)]))
      expect(steps.filter((s) => s.kind === 'batch'), `${extra} bytes`).toHaveLength(3)
      expect(steps.at(-1), `${extra} bytes`).toMatchObject({ kind: 'invalid', problem: 'truncated', position: LOG.length })
    }
  })
})

describe('scanBatches with an end past the end of the file', () => {
  // Regression: a file shorter than `end` (it shrank under a reader, or the caller's end was
  // stale) cut inside a batch made every refill return the same short read, forever.
  it('reports the cut batch as truncated instead of looping', () => {
    const first = BATCHES[0] as Buffer
    const cut = LOG.subarray(0, first.length + 20)
    for (const chunkBytes of [undefined, 64]) {
      const options: ScanOptions = { end: LOG.length }
      if (chunkBytes !== undefined) options.chunkBytes = chunkBytes
      const steps = scan(cut, options)
      expect(steps.map((s) => s.kind)).toEqual(['batch', 'invalid'])
      expect(steps[1]).toMatchObject({ position: first.length, problem: 'truncated' })
    }
  })
})
