// One KafkaJS consumer in a group, as its own process (test_groups.py kills it). Prints the
// same JSON lines as group_member.py: {"event": "assigned"|"revoked", "partitions": [...]},
// {"event": "records", "rows": [[partition, offset, value], ...]} after committing them, and
// {"event": "closed"} after SIGTERM (it leaves the group).
//
//   node group_member.js BOOTSTRAP TOPIC GROUP NAME
'use strict'

const { Kafka, logLevel } = require('kafkajs')

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

async function main() {
  const [bootstrap, topic, group, name] = process.argv.slice(2)
  const kafka = new Kafka({ clientId: name, brokers: [bootstrap], logLevel: logLevel.ERROR })
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000,
    heartbeatInterval: 300, rebalanceTimeout: 10000, maxWaitTimeInMs: 200 })
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    emit({ event: 'assigned', partitions: (payload.memberAssignment[topic] || []).sort() })
  })
  consumer.on(consumer.events.REBALANCING, () => emit({ event: 'revoked', partitions: [] }))
  consumer.on(consumer.events.CRASH, ({ payload }) =>
    emit({ event: 'error', error: String(payload.error) }))
  process.on('SIGTERM', async () => {
    await consumer.disconnect()
    emit({ event: 'closed' })
    process.exit(0)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const rows = batch.messages.map(m => [batch.partition, Number(m.offset), m.value.toString()])
      if (rows.length === 0) return
      const next = (BigInt(batch.lastOffset()) + 1n).toString()
      await consumer.commitOffsets([{ topic, partition: batch.partition, offset: next }])
      for (const m of batch.messages) resolveOffset(m.offset)
      emit({ event: 'records', rows })
      await heartbeat()
    },
  })
}

main().catch(error => {
  emit({ event: 'error', error: String((error && error.stack) || error) })
  process.exit(1)
})
