import { expect, it } from 'vitest'
import { hostileNames, hostileNameList } from './hostile-names.js'
import { seedFromEnv } from './support.js'

it('hostile names are refused with ERR_INVALID_NAME and create nothing; symlinked folders and files are refused, not followed', async () => {
  expect(hostileNameList().length).toBeGreaterThanOrEqual(200)
  const outcome = await hostileNames('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
})
