// Runs one scenario of the official JS SDK against a webhook and prints what the SDK returned, as JSON.
// Usage: node judge.mjs <webhook url> <roundtrip|batch|paging>
// The Python test asserts on this output and on the emulator's state; nothing here asserts.
import { B24Hook } from '@bitrix24/b24jssdk'

const [webhook, scenario] = process.argv.slice(2)
const b24 = B24Hook.fromWebhookUrl(webhook)

async function call (method, params) {
  const response = await b24.actions.v2.call.make({ method, params })
  return response.getData().result
}

async function failure (method, params) {
  try {
    await b24.actions.v2.call.make({ method, params })
    return null
  } catch (error) {
    return { code: error.code, status: error.status, description: error.description ?? error.message }
  }
}

const scenarios = {
  async roundtrip () {
    const id = await call('crm.company.add', {
      fields: {
        TITLE: 'Química Rioplatense SA',
        ORIGIN_ID: 'glyms-js-1',
        EMAIL: [{ VALUE: 'lab@quimrio.example', VALUE_TYPE: 'WORK' }],
        PHONE: [{ VALUE: '+54 221 400-2000', VALUE_TYPE: 'WORK' }]
      }
    })
    const got = await call('crm.company.get', { id })
    const updated = await call('crm.company.update', { id, fields: { TITLE: 'Química Rioplatense SRL' } })
    const listed = await call('crm.company.list', {
      filter: { ORIGIN_ID: 'glyms-js-1' }, select: ['ID', 'TITLE', 'ORIGIN_ID', 'EMAIL']
    })
    const deleted = await call('crm.company.delete', { id })
    const badField = await failure('crm.company.add', { fields: { ORIGIN_ID: 'sin-titulo' } })
    return { id, got, updated, listed, deleted, badField }
  },

  async batch () {
    const response = await b24.actions.v2.batch.make({
      calls: {
        created: { method: 'crm.company.add', params: { fields: { TITLE: 'Alta JS', ORIGIN_ID: 'glyms-js-b' } } },
        read: { method: 'crm.company.get', params: { id: '$result[created]' } },
        broken: { method: 'crm.company.add', params: { fields: { ORIGIN_ID: 'sin-titulo' } } },
        renamed: { method: 'crm.company.update', params: { id: '$result[created]', fields: { TITLE: 'Alta JS (renombrada)' } } }
      },
      options: { isHaltOnError: false }
    })
    const errors = {}
    for (const [key, error] of response.errors) {
      errors[key] = { code: error.code, description: error.description ?? error.message }
    }
    return { isSuccess: response.isSuccess, data: response.getData(), errors }
  },

  async paging () {
    const all = await b24.actions.v2.callList.make({ method: 'crm.company.list', params: { select: ['ID', 'TITLE'] }, idKey: 'ID' })
    const chunks = []
    for await (const chunk of b24.actions.v2.fetchList.make({ method: 'crm.company.list', params: { select: ['ID'] }, idKey: 'ID' })) {
      chunks.push(chunk.map((row) => row.ID))
    }
    return { callList: all.getData().map((row) => row.ID), fetchList: chunks }
  }
}

const result = await scenarios[scenario]()
process.stdout.write(JSON.stringify(result) + '\n')
