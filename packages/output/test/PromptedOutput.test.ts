import { Model } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { PromptedOutput } from "@agentfx/output"
import { attempt } from "./utils.js"

class Device extends Schema.Class<Device>("Device")({ name: Schema.String, kind: Schema.String }) {}
const schemaJson =
  '{"type":"object","required":["name","kind"],"properties":{"name":{"type":"string"},"kind":{"type":"string"}},"additionalProperties":false}'

describe("PromptedOutput", () => {
  it("puts the schema in the instructions with the profile's template", () => {
    const spec = PromptedOutput.make(Device)
    assert.strictEqual(spec.mode, "prompted")
    assert.isTrue(spec.allowTextOutput)
    assert.strictEqual(
      spec.instructions(Model.defaultProfile),
      `Always respond with a JSON object that's compatible with this schema:\n\n{"title":"Device",${schemaJson.slice(1)}\n\nDon't include any text or Markdown fencing before or after.`
    )
    assert.strictEqual(
      spec.instructions(Model.profile({ promptedOutputTemplate: "Schema: {schema}!" })),
      `Schema: {"title":"Device",${schemaJson.slice(1)}!`
    )
    assert.isUndefined(spec.check?.(Model.defaultProfile)) // works with every model
    assert.deepStrictEqual(spec.toolDefinitions(Model.defaultProfile), [])
    assert.strictEqual(spec.outputObject(Model.defaultProfile)?.name, "Device")
  })

  it("a custom template: {schema} replaced, or the schema appended; name and description injected", () => {
    const Plain = Schema.Struct({ name: Schema.String, kind: Schema.String })
    const withPlaceholder = PromptedOutput.make(Plain, { template: "Use {schema} please" })
    assert.strictEqual(
      withPlaceholder.instructions(Model.defaultProfile),
      `Use ${schemaJson} please`
    )
    const without = PromptedOutput.make(Plain, {
      template: "Reply in JSON.",
      name: "device",
      description: "A device"
    })
    assert.strictEqual(
      without.instructions(Model.defaultProfile),
      `Reply in JSON.\n\n{"title":"device",${schemaJson.slice(1, -1)},"description":"A device"}`
    )
  })

  it.effect("parses the text, with or without markdown fences", () =>
    Effect.gen(function* () {
      const spec = PromptedOutput.make(Device)
      for (const text of [
        '{"name":"MacBook","kind":"laptop"}',
        '  {"name":"MacBook","kind":"laptop"}\n',
        '```json\n{"name":"MacBook","kind":"laptop"}\n```',
        'Here it is:\n```\n{"name":"MacBook","kind":"laptop"}\n```'
      ]) {
        const out = yield* attempt(spec.handleText(text, { partial: false }))
        const device = Either.getOrThrow(out)
        assert.instanceOf(device, Device)
        assert.strictEqual(device.kind, "laptop")
      }
      const bad = yield* attempt(spec.handleText("a MacBook", { partial: false }))
      assert.match((bad as Either.Left<any, any>).left.reason, /^Invalid JSON/)
    })
  )

  it.effect("several schemas share one { result: { kind, data } } schema", () =>
    Effect.gen(function* () {
      const Cat = Schema.Struct({ meows: Schema.Number }).annotations({ identifier: "Cat" })
      const Dog = Schema.Struct({ barks: Schema.Number }).annotations({ identifier: "Dog" })
      const spec = PromptedOutput.make([Cat, Dog])
      assert.include(
        spec.instructions(Model.defaultProfile),
        '"kind":{"type":"string","enum":["Dog"]}'
      )
      const out = yield* attempt(
        spec.handleText('{"result": {"kind": "Dog", "data": {"barks": 3}}}', { partial: false })
      )
      assert.deepStrictEqual(Either.getOrThrow(out), { barks: 3 })
    })
  )
})
