// KafkaJS 2.2.4 producing through a leader's failover, driven by test_replication.py.
//
//   node failover.js '{"bootstrap": "127.0.0.1:9092,...", "topic": "t", "count": 300,
//                      "intervalMs": 20}'
//     An idempotent producer (acks=all) sends `count` records to partition 0, one per send,
//     `intervalMs` apart, each value "js-<n>"; KafkaJS's own retries carry it through
//     NOT_LEADER_OR_FOLLOWER and dropped connections. Prints {ok, acked: {value: offset},
//     errors}. Exit code 0 iff every record was acknowledged.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const opts = JSON.parse(process.argv[2])
const kafka = new Kafka({
  clientId: 'tributary-failover',
  brokers: opts.bootstrap.split(','),
  logLevel: logLevel.WARN,
  logCreator: () => ({ namespace, label, log }) => {
    process.stderr.write(`kafkajs ${label} [${namespace}] ${JSON.stringify(log)}\n`)
  },
  retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 },
})

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function main() {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const acked = {}
  const errors = []
  for (let n = 0; n < opts.count; n++) {
    const value = `js-${String(n).padStart(4, '0')}`
    try {
      const [meta] = await producer.send({
        topic: opts.topic, acks: -1, timeout: 10000,
        messages: [{ value, partition: 0 }],
      })
      acked[value] = Number(meta.baseOffset)
    } catch (e) {
      errors.push(`${value}: ${e.message}`)
    }
    await sleep(opts.intervalMs)
  }
  await producer.disconnect()
  return { ok: errors.length === 0, acked, errors }
}

main().then(
  r => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(r.ok ? 0 : 1) },
  e => { process.stdout.write(JSON.stringify({ ok: false, error: String(e) }) + '\n'); process.exit(1) },
)
