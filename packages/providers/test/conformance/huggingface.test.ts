/**
 * Conformance of the OpenAI-compatible client for huggingface against recorded traffic. Interactions
 * of other endpoints (e.g. `responses`, `models`) are filtered out by the harness: they are
 * other protocols. Request-fidelity skips carry their reason (`fidelitySkip`).
 */
import { describe, it } from "@effect/vitest"
import * as OpenAiCompatible from "../../src/OpenAiCompatible.js"
import { chatInteractions, checkInteraction, decodeSkipReason, type VendorSetup } from "../support/chatConformance.js"

const vendor: VendorSetup = { system: "huggingface", profile: OpenAiCompatible.vendors["huggingface"]!.profile }

describe("huggingface conformance", () => {
  for (const ci of chatInteractions("huggingface")) {
    const name = `${ci.caseId}#${ci.index}`
    const skip = decodeSkipReason(ci.interaction)
    if (skip !== undefined) {
      // Data-driven skip: see `decodeSkipReason` for the reason.
      it.skip(`${name}: ${skip}`, () => {})
      continue
    }
    it.effect(`decode + request: ${name}${ci.fidelitySkip ? ` (fidelity skipped: ${ci.fidelitySkip})` : ""}`, () =>
      checkInteraction(ci, vendor, { fidelity: true })
    )
    if (ci.interaction.response.sse) {
      it.effect(`decode re-chunked stream: ${name}`, () =>
        checkInteraction(ci, vendor, { fidelity: false, rechunkSeed: ci.index + 17 })
      )
    }
  }
})
