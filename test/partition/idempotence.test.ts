/**
 * Idempotent producers and message-id dedup at the partition: retries append nothing, gaps are
 * refused, and both survive a close and reopen (snapshot + log scan) and a crash (no snapshot).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Partition } from '../../src/partition/index.js'

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-idem-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const producer = { producerId: 42, producerEpoch: 0 }

async function values(p: Partition): Promise<string[]> {
  const out: string[] = []
  for await (const r of p.records({ from: p.logStartOffset })) out.push(`${r.offset}:${String(r.value)}`)
  return out
}

describe('idempotent producer', () => {
  it('answers the same batch sent twice with its original offsets and appends it once', async () => {
    const p = await Partition.open(dir)
    const first = await p.append([{ value: 'a' }, { value: 'b' }], { ...producer, baseSequence: 0 })
    const retry = await p.append([{ value: 'a' }, { value: 'b' }], { ...producer, baseSequence: 0 })
    expect(retry).toEqual({ baseOffset: first.baseOffset, lastOffset: first.lastOffset, duplicate: true })
    expect(p.logEndOffset).toBe(2)
    expect(await values(p)).toEqual(['0:a', '1:b'])
    await p.close()
  })

  it('recognises a retry of any of the last 5 batches', async () => {
    const p = await Partition.open(dir)
    for (let seq = 0; seq < 5; seq++) await p.append([{ value: `v${seq}` }], { ...producer, baseSequence: seq })
    const retry = await p.append([{ value: 'v1' }], { ...producer, baseSequence: 1 })
    expect(retry).toMatchObject({ baseOffset: 1, duplicate: true })
    expect(p.logEndOffset).toBe(5)
    await p.close()
  })

  it('rejects a gap in sequence numbers with ERR_OUT_OF_ORDER_SEQUENCE and appends nothing', async () => {
    const p = await Partition.open(dir)
    await p.append([{ value: 'a' }], { ...producer, baseSequence: 0 })
    await expect(p.append([{ value: 'c' }], { ...producer, baseSequence: 2 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_ORDER_SEQUENCE' })
    expect(p.logEndOffset).toBe(1)
    // The partition is not poisoned: the right sequence still appends.
    await expect(p.append([{ value: 'b' }], { ...producer, baseSequence: 1 })).resolves.toMatchObject({ baseOffset: 1 })
    await p.close()
  })

  it('fences an older epoch once a newer one has written', async () => {
    const p = await Partition.open(dir)
    await p.append([{ value: 'a' }], { producerId: 9, producerEpoch: 1, baseSequence: 0 })
    await expect(p.append([{ value: 'b' }], { producerId: 9, producerEpoch: 0, baseSequence: 1 })).rejects.toMatchObject({
      code: 'ERR_OUT_OF_ORDER_SEQUENCE',
    })
    await p.close()
  })

  it('still recognises the retry after a clean close and reopen, across a roll', async () => {
    let p = await Partition.open(dir, { segmentBytes: 512 })
    for (let seq = 0; seq < 40; seq++) await p.append([{ value: `value-${seq}` }], { ...producer, baseSequence: seq })
    expect(p.segmentCount).toBeGreaterThan(1)
    await p.close()
    p = await Partition.open(dir, { segmentBytes: 512 })
    const retry = await p.append([{ value: 'value-39' }], { ...producer, baseSequence: 39 })
    expect(retry).toMatchObject({ baseOffset: 39, duplicate: true })
    await expect(p.append([{ value: 'x' }], { ...producer, baseSequence: 41 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_ORDER_SEQUENCE' })
    expect(p.logEndOffset).toBe(40)
    await p.close()
  })

  it('rebuilds the producer state from the log alone when no snapshot survived a crash', async () => {
    let p = await Partition.open(dir)
    for (let seq = 0; seq < 3; seq++) await p.append([{ value: `v${seq}` }], { ...producer, baseSequence: seq })
    await p.close()
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.snapshot') || f === 'clean-shutdown') fs.unlinkSync(path.join(dir, f))
    p = await Partition.open(dir)
    expect(p.recovery.clean).toBe(false)
    expect(await p.append([{ value: 'v2' }], { ...producer, baseSequence: 2 })).toMatchObject({ baseOffset: 2, duplicate: true })
    await p.close()
  })
})

describe('message-id dedup', () => {
  it('does not append a record whose msg-id is in the window, and answers with its first offset', async () => {
    const p = await Partition.open(dir, { dedupWindowMs: 60_000 })
    await p.append([{ value: 'a', headers: { 'msg-id': 'id-1' } }])
    const again = await p.append([{ value: 'a', headers: [['msg-id', 'id-1']] }])
    expect(again).toMatchObject({ offsets: [0], duplicate: true })
    expect(await values(p)).toEqual(['0:a'])
    await p.close()
  })

  it('keeps the fresh records of a batch that mixes new and repeated ids, including repeats within the batch', async () => {
    const p = await Partition.open(dir, { dedupWindowMs: 60_000 })
    await p.append([{ value: 'a', headers: { 'msg-id': 'x' } }])
    const mixed = await p.append([
      { value: 'a', headers: { 'msg-id': 'x' } },
      { value: 'b', headers: { 'msg-id': 'y' } },
      { value: 'b again', headers: { 'msg-id': 'y' } },
      { value: 'no id' },
    ])
    expect(mixed.offsets).toEqual([0, 2, 2, 4])
    expect(await values(p)).toEqual(['0:a', '2:b', '4:no id'])
    await p.close()
  })

  it('catches a repeated msg-id after a crash and restart (window rebuilt from the log)', async () => {
    let p = await Partition.open(dir, { dedupWindowMs: 60_000 })
    await p.append([{ value: 'a', headers: { 'msg-id': 'order-17' } }])
    await p.append([{ value: 'b' }])
    await p.close()
    fs.unlinkSync(path.join(dir, 'clean-shutdown'))
    p = await Partition.open(dir, { dedupWindowMs: 60_000 })
    expect(await p.append([{ value: 'a', headers: { 'msg-id': 'order-17' } }])).toMatchObject({ offsets: [0], duplicate: true })
    expect(p.logEndOffset).toBe(2)
    await p.close()
  })

  it('appends the id again once it is older than the window', async () => {
    const p = await Partition.open(dir, { dedupWindowMs: 1000 })
    await p.append([{ value: 'old', headers: { 'msg-id': 'k' }, timestamp: Date.now() - 5000 }])
    const fresh = await p.append([{ value: 'new', headers: { 'msg-id': 'k' } }])
    expect(fresh).toMatchObject({ baseOffset: 1, lastOffset: 1 })
    expect(fresh.duplicate).toBeUndefined()
    await p.close()
  })
})
