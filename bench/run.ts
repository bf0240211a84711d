/**
 * `npm run bench [-- --quick]`: codec micro-benchmarks, then append/replay/fsync throughput
 * beside raw-disk baselines. Prints the machine first. Set SEGLOG_BENCH_DIR to choose the disk.
 */
import os from 'node:os'
import { codecBench } from './codec.js'
import { printMachine } from './machine.js'
import { throughputBench } from './throughput.js'

const quick = process.argv.includes('--quick')
printMachine(process.env.SEGLOG_BENCH_DIR ?? os.tmpdir())
await codecBench()
await throughputBench(quick ? 64 * 1024 * 1024 : 1024 * 1024 * 1024)
