// The chaos harness's KafkaJS producer: idempotent, acks=all, one send in flight, unique
// values "<proc>:<n>" round-robin over the partitions, history in checker.py's format.
//
//   NODE_PATH=tests/integration/js/node_modules node kafkajs_producer.js \
//     '{"proc": "js1", "brokers": "10.1.2.1:9092,...", "topic": "chaos", "partitions": 6,
//       "rate": 100, "out": "history/js1.jsonl"}'
//
// Runs until SIGTERM. Times are process.hrtime.bigint(): CLOCK_MONOTONIC, the clock of
// Python's time.monotonic_ns(), so every history shares one clock. A send that fails after
// KafkaJS's retries is indeterminate (info): it may have been written.
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const opts = JSON.parse(process.argv[2])
const out = fs.openSync(opts.out, 'a')
const write = (type, f, value) => {
  const t = process.hrtime.bigint().toString()
  fs.writeSync(out, `{"t":${t},"proc":${JSON.stringify(opts.proc)},"type":"${type}",` +
    `"f":"${f}","value":${JSON.stringify(value)}}\n`)
}

const kafka = new Kafka({
  clientId: `tributary-chaos-${opts.proc}`,
  brokers: opts.brokers.split(','),
  logLevel: logLevel.NOTHING,
  retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
})

let stopping = false
process.on('SIGTERM', () => { stopping = true })
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function main() {
  let producer = null
  let seq = 0
  const interval = 1000 / Math.max(opts.rate, 1)
  while (!stopping) {
    if (producer === null) {
      producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
      try {
        await producer.connect()
      } catch (e) {
        producer = null
        await sleep(500)
        continue
      }
    }
    const partition = seq % opts.partitions
    const value = `${opts.proc}:${seq}`
    seq += 1
    write('invoke', 'send', { partition, value, idempotent: true })
    const started = Date.now()
    try {
      const [meta] = await producer.send({
        topic: opts.topic, acks: -1, timeout: 30000,
        messages: [{ value, partition }],
      })
      write('ok', 'send', { partition, value, offset: Number(meta.baseOffset) })
    } catch (e) {
      write('info', 'send', { partition, value, error: `${e.name}: ${e.message}` })
      // KafkaJS gives up on a producer after its retries; a new one (a new producer id)
      // carries on, as an application would.
      try { await producer.disconnect() } catch (_) { /* already broken */ }
      producer = null
    }
    const wait = interval - (Date.now() - started)
    if (wait > 0) await sleep(wait)
  }
  if (producer !== null) await producer.disconnect()
}

main().then(() => process.exit(0), e => {
  process.stderr.write(`kafkajs producer: ${e.stack}\n`)
  process.exit(1)
})
