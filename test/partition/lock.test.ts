/**
 * One writer per partition: a second writer, in this process or another, is refused at once with
 * ERR_LOCKED; the lock goes with the writer (close, or the kernel when its process dies).
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { LockedError, Partition } from '../../src/seglog.js'
import { appendNumbered, caught, Child, expectNumbered, readAll, removeTempDirs, requireFreshDist, tempDir } from './helpers.js'

const children: Child[] = []
beforeAll(requireFreshDist)
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()))
  removeTempDirs()
})
afterAll(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()))
})

function child(args: string[]): Child {
  const c = new Child('writer.mjs', args)
  children.push(c)
  return c
}

describe('Partition lock', () => {
  it('refuses a second writer in the same process with ERR_LOCKED, and lets one in after the first closes', async () => {
    const dir = tempDir()
    const first = await Partition.open(dir)
    await appendNumbered(first, 2, 5)
    const err = await caught(() => Partition.open(dir))
    expect(err).toBeInstanceOf(LockedError)
    expect(err).toMatchObject({ code: 'ERR_LOCKED', file: path.join(dir, '.lock') })
    expect(err.message).toContain(`process ${process.pid}`)
    // The refused open changed nothing: the first writer goes on.
    await appendNumbered(first, 1, 5)
    // A reader needs no lock.
    const reader = await Partition.openReadOnly(dir)
    expectNumbered(await readAll(reader), 0, 15)
    await reader.close()
    await first.close()
    const second = await Partition.open(dir)
    expect(second.recovery.clean).toBe(true)
    expectNumbered(await readAll(second), 0, 15)
    await second.close()
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(true) // the lock file is never deleted
  })

  it('refuses a writer while another process holds the partition, and recovers after that process is killed', async () => {
    const dir = tempDir()
    const holder = child([dir, 'hold', '57', '10'])
    await holder.waitForLine((l) => l.startsWith('ready'))
    const err = await caught(() => Partition.open(dir))
    expect(err).toBeInstanceOf(LockedError)
    expect(err).toMatchObject({ code: 'ERR_LOCKED', file: path.join(dir, '.lock') })
    expect(err.message).toContain(`process ${holder.process.pid}`)
    // Still refused on a second try: the refusal does not disturb the holder's lock.
    expect((await caught(() => Partition.open(dir))).code).toBe('ERR_LOCKED')

    expect(await holder.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
    // The kernel released the flock with the process: open at once, recover, go on.
    const p = await Partition.open(dir)
    try {
      expect(p.recovery.clean).toBe(false)
      expect(p.recovery.truncatedBytes).toBe(0) // every append had resolved before "ready"
      expect(p.logEndOffset).toBe(57)
      expectNumbered(await readAll(p), 0, 57)
      await appendNumbered(p, 1, 3)
      expectNumbered(await readAll(p), 0, 60)
    } finally {
      await p.close()
    }
  })

  it('makes the other process wait its turn: its open fails with ERR_LOCKED while this process writes', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    await appendNumbered(p, 1, 4)
    const other = child([dir, 'append', '10', '10'])
    const exit = await other.exited
    expect(exit.code).not.toBe(0)
    expect(other.stderr).toContain('ERR_LOCKED')
    await p.close()
    const late = child([dir, 'append', '10', '3'])
    expect(await late.waitForLine((l) => l.startsWith('done'))).toBe('done 10')
    expect((await late.exited).code).toBe(0)
    const after = await Partition.open(dir)
    expectNumbered(await readAll(after), 0, 10)
    await after.close()
  })
})
