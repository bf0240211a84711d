// A durable job queue on seglog, run end to end in about ten seconds:
//
//   node examples/job-queue/run.mjs [--jobs N] [--keep]      (after `npm run build`)
//
// - a temporary log with the topics `jobs` (4 partitions) and `jobs-retry` (1 partition);
// - web-producer.mjs: an HTTP server on 127.0.0.1 that appends one job per `POST /jobs` and
//   answers 202 once it is durable; this script POSTs N jobs to it at a steady rate;
// - two worker.mjs processes in the consumer group `workers`, on `jobs` and `jobs-retry`: each
//   job is processed, then committed; ~5% fail on their first try and go to `jobs-retry`;
// - once 30% of the jobs are done, the worker owning the most partitions is SIGKILLed; the survivor takes its partitions
//   over from their committed offsets, and a replacement worker joins later;
// - at the end, a summary; exit 1 unless every job was completed at least once.
//
// With --keep the log stays on disk for a look with `seglog stats <dir>` or `seglog consume`.
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Log } from '../../dist/src/seglog.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const jobsArg = args.indexOf('--jobs')
const JOBS = jobsArg >= 0 ? Number(args[jobsArg + 1]) : 2000
const KEEP = args.includes('--keep')
if (!Number.isSafeInteger(JOBS) || JOBS < 1) throw new RangeError(`--jobs: expected a positive integer, got ${args[jobsArg + 1]}`)

const JOBS_PER_SECOND = 500
const TICK_MS = 10
/** The kill comes once this share of the jobs is completed and both workers own partitions. */
const KILL_AT_SHARE = 0.3
const REPLACE_AFTER_MS = 1000
const DEADLINE_MS = 25_000

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-job-queue-'))
{
  const log = await Log.open(root)
  await log.createTopic('jobs', { partitions: 4 })
  await log.createTopic('jobs-retry', { partitions: 1 })
  await log.close() // this script writes nothing itself: no partition lock stays here
}

const start = performance.now()
const now = () => performance.now() - start
const say = (text) => console.log(`[${(now() / 1000).toFixed(2).padStart(5)} s] ${text}`)
say(`log in ${root}: topics jobs (4 partitions) and jobs-retry (1 partition)`)

// What the children report.
let produced = 0
let postFailures = 0
let retries = 0
const completions = new Map() // job id → times completed
const owned = new Map() // worker name → Set of 'topic/partition'
const workers = new Map() // worker name → child process
const retryRoutes = new Map() // retry request id → the worker waiting for it
const kill = { victim: undefined, survivor: undefined, partitions: [], at: undefined, takeoverMs: undefined, firstJobMs: undefined }

// The web producer.
const web = fork(path.join(here, 'web-producer.mjs'), [root], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
const port = await new Promise((resolve, reject) => {
  web.once('exit', (code) => reject(new Error(`web producer exited with ${code}`)))
  web.on('message', (message) => {
    if (message.type === 'listening') resolve(message.port)
    else if (message.type === 'retried') {
      retries++
      const worker = retryRoutes.get(message.reqId)
      retryRoutes.delete(message.reqId)
      if (worker?.connected) worker.send(message) // a killed worker's retry is durable all the same
    }
  })
})
say(`web producer listening on http://127.0.0.1:${port}/jobs`)

function startWorker(name) {
  const child = fork(path.join(here, 'worker.mjs'), [root, name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  workers.set(name, child)
  owned.set(name, new Set())
  child.on('message', (message) => onWorkerMessage(name, child, message))
  say(`started ${name}`)
  return child
}

function onWorkerMessage(name, child, message) {
  const mine = owned.get(name)
  switch (message.type) {
    case 'assigned':
      for (const tp of message.partitions) mine.add(tp)
      say(`${name} assigned ${message.partitions.join(', ')}`)
      if (kill.at !== undefined && kill.takeoverMs === undefined && name === kill.survivor && kill.partitions.every((tp) => mine.has(tp))) {
        kill.takeoverMs = now() - kill.at
        say(`${name} owns all of ${kill.victim}'s partitions, ${Math.round(kill.takeoverMs)} ms after the kill`)
      }
      break
    case 'revoked':
      for (const tp of message.partitions) mine.delete(tp)
      say(`${name} revoked ${message.partitions.join(', ')}`)
      break
    case 'retry':
      retryRoutes.set(message.reqId, child)
      web.send(message)
      break
    case 'done': {
      completions.set(message.id, (completions.get(message.id) ?? 0) + 1)
      const tp = `${message.topic}/${message.partition}`
      if (kill.at !== undefined && kill.firstJobMs === undefined && name === kill.survivor && kill.partitions.includes(tp)) kill.firstJobMs = now() - kill.at
      break
    }
  }
}

startWorker('worker-1')
startWorker('worker-2')

// The clients: POST the jobs at a steady rate; each answer comes once the job is durable.
let nextJob = 0
const inFlightPosts = new Set()
const post = async (i) => {
  const id = `job-${String(i).padStart(5, '0')}`
  try {
    const res = await fetch(`http://127.0.0.1:${port}/jobs`, { method: 'POST', body: JSON.stringify({ id, payload: `resize image ${i}` }) })
    await res.text()
    if (res.status === 202) produced++
    else postFailures++
  } catch {
    postFailures++
  }
}
const load = setInterval(() => {
  for (let k = 0; k < (JOBS_PER_SECOND * TICK_MS) / 1000 && nextJob < JOBS; k++) {
    const p = post(nextJob++)
    inFlightPosts.add(p)
    void p.finally(() => inFlightPosts.delete(p))
  }
  if (nextJob >= JOBS) clearInterval(load)
}, TICK_MS)

// Midway: SIGKILL the worker owning the most partitions; start a replacement a little later.
const killer = setInterval(() => {
  const busy = [...owned.values()].every((tps) => tps.size > 0)
  if (!(completions.size >= JOBS * KILL_AT_SHARE && (busy || completions.size >= JOBS / 2))) return
  clearInterval(killer)
  const [victim, survivor] = [...owned.entries()].sort((a, b) => b[1].size - a[1].size).map(([name]) => name)
  Object.assign(kill, { victim, survivor, partitions: [...owned.get(victim)], at: now() })
  workers.get(victim).kill('SIGKILL')
  say(`SIGKILL ${victim} (owned ${kill.partitions.join(', ')}); completed so far: ${completions.size}`)
  setTimeout(() => startWorker('worker-3'), REPLACE_AFTER_MS)
}, 20)

// Wait until every job is completed, or the deadline.
const progress = setInterval(() => say(`produced ${produced}/${JOBS}, completed ${completions.size}, retries ${retries}`), 2000)
while (now() < DEADLINE_MS && !(produced + postFailures === JOBS && completions.size >= produced && kill.at !== undefined && now() > kill.at + REPLACE_AFTER_MS)) {
  await new Promise((resolve) => setTimeout(resolve, 50))
}
clearInterval(progress)
clearInterval(load)
clearInterval(killer)
await Promise.allSettled([...inFlightPosts])

// Stop everything cleanly: workers finish their job in hand and leave the group.
const exited = (child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve)))
for (const [name, child] of workers) if (name !== kill.victim) child.kill('SIGTERM')
web.send({ type: 'stop' })
await Promise.all([...workers.values(), web].map(exited))
const elapsedMs = now()

// What the log says: everything the group was given, it committed.
const log = await Log.open(root)
const lag = (await log.groups()).flatMap((g) => g.partitions).reduce((sum, p) => sum + p.lag, 0)
const durable = async (topic) => (await log.describe(topic)).partitions.reduce((sum, p) => sum + p.durableOffset, 0)
const inJobs = await durable('jobs')
const inRetry = await durable('jobs-retry')
await log.close()

const missing = []
for (let i = 0; i < JOBS; i++) {
  const id = `job-${String(i).padStart(5, '0')}`
  if (!completions.has(id)) missing.push(id)
}
const total = [...completions.values()].reduce((a, b) => a + b, 0)
const ms = (value) => (value === undefined ? 'never' : `${Math.round(value)} ms`)
console.log(`
summary
  jobs produced (202 Accepted)      ${produced}${postFailures > 0 ? ` (${postFailures} POSTs failed)` : ''}
  jobs completed (unique)           ${completions.size}
  completions in all                ${total}
  duplicates (redelivered)          ${total - completions.size}
  retries (failed first tries)      ${retries} appended to jobs-retry
  takeover after the SIGKILL        ${kill.survivor} owned ${kill.victim}'s ${kill.partitions.length} partitions after ${ms(kill.takeoverMs)}, first job from them done after ${ms(kill.firstJobMs)}
  records in jobs / jobs-retry      ${inJobs} / ${inRetry}
  group lag at the end              ${lag}
  time                              ${(elapsedMs / 1000).toFixed(1)} s`)

if (KEEP) console.log(`\nthe log stays in ${root}: try  node dist/tools/seglog.js stats ${root}`)
else fs.rmSync(root, { recursive: true, force: true })

if (missing.length > 0 || produced !== JOBS) {
  console.log(`\nFAIL: ${missing.length} jobs never completed (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`)
  process.exitCode = 1
} else {
  console.log('\nOK: every job completed at least once')
}
