import { expect, it } from 'vitest'
import { bitFlips } from './bit-flips.js'
import { seedFromEnv } from './support.js'

it('bit flips in a small and a large segment: each detected by verify and by open, never an undetected change to a record', async () => {
  const outcome = await bitFlips('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.flips).toBeGreaterThanOrEqual(500)
})
