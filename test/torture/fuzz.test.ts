import { expect, it } from 'vitest'
import { fuzz } from './fuzz.js'
import { seedFromEnv } from './support.js'

it('fuzzed input to the decoder, dump and verify: no crash, no hang, bounded allocations', async () => {
  const outcome = await fuzz('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.inputs).toBeGreaterThanOrEqual(20_000)
})
