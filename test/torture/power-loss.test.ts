import { expect, it } from 'vitest'
import { powerLoss } from './power-loss.js'
import { seedFromEnv } from './support.js'

it('simulated power loss: every crash state recovers to a prefix of what was written holding every acknowledged record', async () => {
  const outcome = await powerLoss('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.crashStates).toBeGreaterThanOrEqual(600)
})
