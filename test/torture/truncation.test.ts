import { expect, it } from 'vitest'
import { truncation } from './truncation.js'
import { seedFromEnv } from './support.js'

it('truncation of the newest segment, its indexes, checkpoints and the consumer offsets store: records before the cut kept, typed errors only', async () => {
  const outcome = await truncation('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.cuts).toBeGreaterThanOrEqual(300)
})
