/** The machine a benchmark ran on, printed beside every figure. */
import fs from 'node:fs'
import os from 'node:os'
import { execFileSync } from 'node:child_process'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  os: string
  disk: string
}

export function machine(dir: string): Machine {
  let disk = 'unknown'
  try {
    const out = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n')[1]?.split(/\s+/)
    if (out !== undefined) disk = `${out[0]} (${out[1]})`
  } catch {
    // df missing: keep 'unknown'
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    disk,
  }
}

export function printMachine(dir: string): Machine {
  const m = machine(dir)
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, disk ${m.disk}, Node ${m.node}`)
  return m
}

export function tempDir(prefix: string): string {
  const base = process.env.SEGLOG_BENCH_DIR ?? os.tmpdir()
  return fs.mkdtempSync(`${base}/${prefix}`)
}
