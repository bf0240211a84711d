import { expect, it } from 'vitest'
import { ioFaults } from './io-faults.js'
import { seedFromEnv } from './support.js'

it('I/O errors SQLite-style: no acknowledgement without durability, sticky failures, recovery after reopen', async () => {
  const outcome = await ioFaults('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.points).toBeGreaterThanOrEqual(100)
})
