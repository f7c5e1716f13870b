/**
 * Image output end to end through `Agent.run` / `runStream` with FunctionModel: the image ends
 * the run (and beats text), a text-only answer gets pydantic-ai's retry prompt, unions with text
 * and output tools, validators and functions on the image, the model check, the request
 * parameters a model sees, and the output JSON Schema.
 */
import { Agent, AgentError, FunctionModel, Messages, OutputSpec, TestModel } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ImageOutput, Output, ToolOutput } from "@agentfx/output"

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9, 9])
const cat = new Messages.BinaryContent({ data: png, mediaType: "image/png" })
const imageResponse = (text?: string) =>
  new Messages.ModelResponse({
    parts: [
      ...(text !== undefined ? [new Messages.TextPart({ content: text })] : []),
      new Messages.FilePart({ content: cat, id: "ig_1", providerName: "test" })
    ]
  })

const retryTexts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.flatMap((p) => (p._tag === "RetryPromptPart" ? [p.modelResponse] : []))
      : []
  )

/** A model answering with `responses` in turn (the last one repeats), recording what it saw. */
const scripted = (responses: ReadonlyArray<Messages.ModelResponse | string>) => {
  const seen: Array<FunctionModel.AgentInfo> = []
  const fn: FunctionModel.ModelFunction = (_messages, info) => {
    seen.push(info)
    return responses[Math.min(seen.length - 1, responses.length - 1)]!
  }
  return { seen, layer: FunctionModel.layer(fn, { stream: FunctionModel.streamOf(fn) }) }
}

describe("ImageOutput", () => {
  it.effect("ends the run with the image; the model is asked for an image, not text", () =>
    Effect.gen(function* () {
      const model = scripted([imageResponse("Here is your cat.")])
      const result = yield* Agent.make({ output: ImageOutput.make() })
        .run("Draw a cat")
        .pipe(Effect.provide(model.layer))
      assert.instanceOf(result.output, Messages.BinaryContent)
      assert.strictEqual(result.output.mediaType, "image/png")
      assert.deepStrictEqual([...result.output.data], [...png])
      const info = model.seen[0]!
      assert.isTrue(info.allowImageOutput)
      assert.isFalse(info.allowTextOutput)
      assert.strictEqual(info.outputMode, "image")
      assert.isTrue(info.parameters.allowDirectOutput)
      assert.strictEqual(result.usage.requests, 1)
    })
  )

  it.effect(
    "a text-only answer gets 'Please return an image.' and the next image ends the run",
    () =>
      Effect.gen(function* () {
        const model = scripted(["I cannot draw.", imageResponse()])
        const result = yield* Agent.make({ output: ImageOutput.make() })
          .run("Draw a cat")
          .pipe(Effect.provide(model.layer))
        assert.deepStrictEqual(result.output, cat)
        assert.deepStrictEqual(retryTexts(result.allMessages()), [
          "Validation feedback:\nPlease return an image.\n\nFix the errors and try again."
        ])
        assert.strictEqual(result.usage.requests, 2)
      })
  )

  it.effect("never an image: the output retries run out with the reason", () =>
    Effect.gen(function* () {
      const model = scripted(["No."])
      const exit = yield* Agent.make({ output: ImageOutput.make(), outputRetries: 1 })
        .run("Draw")
        .pipe(Effect.provide(model.layer), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const error = (exit as any).cause.error as AgentError.UnexpectedModelBehavior
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      assert.include(error.reason, "Exceeded maximum output retries (1)")
      assert.include(error.reason, "Please return an image.")
      // the history is kept: two answers and the retry prompt between them
      assert.strictEqual(error.messages?.filter((m) => m._tag === "ModelResponse").length, 2)
      assert.strictEqual(model.seen.length, 2)
    })
  )

  it.effect("in a union with text: an image beats text, text alone is the output", () =>
    Effect.gen(function* () {
      const output = Output.union([ImageOutput.make(), OutputSpec.text])
      const agent = Agent.make({ output })
      const withImage = scripted([imageResponse("Here it is.")])
      const a = yield* agent.run("Draw").pipe(Effect.provide(withImage.layer))
      assert.deepStrictEqual(a.output, cat)
      assert.isTrue(withImage.seen[0]!.allowTextOutput)
      assert.isTrue(withImage.seen[0]!.allowImageOutput)
      const textOnly = scripted(["A cat is a small feline."])
      const b = yield* agent.run("Describe").pipe(Effect.provide(textOnly.layer))
      assert.strictEqual(b.output, "A cat is a small feline.")
    })
  )

  it.effect("in a union with an output tool: the retry names both ways to answer", () =>
    Effect.gen(function* () {
      const City = Schema.Struct({ city: Schema.String })
      const output = Output.union([ToolOutput.make(City), ImageOutput.make()])
      const model = scripted([
        "Thinking about it…",
        FunctionModel.toolCall("final_result", { city: "Paris" })
      ])
      const result = yield* Agent.make({ output }).run("Where?").pipe(Effect.provide(model.layer))
      assert.deepStrictEqual(result.output, { city: "Paris" })
      assert.deepStrictEqual(retryTexts(result.allMessages()), [
        "Validation feedback:\nPlease include your response in a tool call or return an image.\n\nFix the errors and try again."
      ])
      const info = model.seen[0]!
      assert.deepStrictEqual(
        info.outputTools.map((t) => t.name),
        ["final_result"]
      )
      assert.isTrue(info.allowImageOutput)
      assert.isFalse(info.allowTextOutput)
      assert.strictEqual(info.outputMode, "tool")
    })
  )

  it.effect("with auto output: the mode the profile picks allows images too", () =>
    Effect.gen(function* () {
      const City = Schema.Struct({ city: Schema.String })
      const output = Output.union([Output.auto(City), ImageOutput.make()])
      const withImage = scripted([imageResponse()])
      const agent = Agent.make({ output })
      const a = yield* agent.run("Draw").pipe(Effect.provide(withImage.layer))
      assert.deepStrictEqual(a.output, cat)
      // FunctionModel's profile resolves auto output to tool mode: an output tool and images
      assert.strictEqual(withImage.seen[0]!.outputMode, "tool")
      assert.isTrue(withImage.seen[0]!.allowImageOutput)
      const withCall = scripted([FunctionModel.toolCall("final_result", { city: "Rome" })])
      const b = yield* agent.run("Where?").pipe(Effect.provide(withCall.layer))
      assert.deepStrictEqual(b.output, { city: "Rome" })
    })
  )

  it.effect("a function makes the output from the image; a validator can refuse one", () =>
    Effect.gen(function* () {
      const small = new Messages.BinaryContent({
        data: new Uint8Array([1]),
        mediaType: "image/webp"
      })
      const model = scripted([
        new Messages.ModelResponse({ parts: [new Messages.FilePart({ content: small })] }),
        imageResponse()
      ])
      const output = ImageOutput.make((image) => `${image.mediaType}:${image.data.length}`).pipe(
        Output.withValidator((s: string) =>
          s.startsWith("image/png") ? Effect.succeed(s) : Output.retry("Send a PNG.")
        )
      )
      const result = yield* Agent.make({ output }).run("Draw").pipe(Effect.provide(model.layer))
      assert.strictEqual(result.output, "image/png:6")
      assert.deepStrictEqual(retryTexts(result.allMessages()), [
        "Validation feedback:\nSend a PNG.\n\nFix the errors and try again."
      ])
    })
  )

  it.effect(
    "streamed: FinalResultEvent right after the image starts, the image is the output",
    () =>
      Effect.gen(function* () {
        const model = scripted([imageResponse("Here:")])
        const events = Chunk.toReadonlyArray(
          yield* Agent.make({ output: ImageOutput.make() })
            .runStream("Draw")
            .pipe(Stream.runCollect, Effect.provide(model.layer))
        )
        const tags = events.map((e) =>
          e._tag === "PartStartEvent" ? `start:${e.part._tag}` : e._tag
        )
        const file = tags.indexOf("start:FilePart")
        assert.isAbove(file, 0)
        assert.strictEqual(tags[file + 1], "FinalResultEvent")
        assert.strictEqual(tags.filter((t) => t === "FinalResultEvent").length, 1)
        const last = events.at(-1) as Agent.AgentRunResultEvent<Messages.BinaryContent>
        assert.deepStrictEqual(last.result.output, cat)
      })
  )

  it.effect("a model without image output fails before any request", () =>
    Effect.gen(function* () {
      const exit = yield* Agent.make({ output: ImageOutput.make() })
        .run("Draw")
        .pipe(Effect.provide(TestModel.layer()), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const error = (exit as any).cause.error as AgentError.UserError
      assert.strictEqual(error._tag, "UserError")
      assert.strictEqual(error.reason, "Image output is not supported by this model.")
      // with text in a union the check still applies: the model would be asked for images
      const union = yield* Agent.make({
        output: Output.union([OutputSpec.text, ImageOutput.make()])
      })
        .run("Draw")
        .pipe(Effect.provide(TestModel.layer()), Effect.exit)
      assert.strictEqual(
        (union as any).cause.error.reason,
        "Image output is not supported by this model."
      )
    })
  )

  it("its JSON Schema is the image's; in a union, one member of anyOf", () => {
    assert.deepStrictEqual(
      Agent.outputJsonSchema(Agent.make({ output: ImageOutput.make() })),
      OutputSpec.imageJsonSchema
    )
    assert.deepStrictEqual(
      Agent.outputJsonSchema(
        Agent.make({ output: Output.union([OutputSpec.text, ImageOutput.make()]) })
      ),
      { anyOf: [{ type: "string" }, OutputSpec.imageJsonSchema] }
    )
  })

  it("a union takes one image output only", () => {
    assert.throws(
      () => Output.union([ImageOutput.make(), ImageOutput.make()]),
      /Only one image output is allowed/
    )
  })
})
