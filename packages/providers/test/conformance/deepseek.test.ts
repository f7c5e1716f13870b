/**
 * Conformance of the OpenAI-compatible client for deepseek against recorded traffic. Interactions
 * of other endpoints (e.g. `responses`, `models`) are filtered out by the harness: they are
 * other protocols. Request-fidelity skips carry their reason (`fidelitySkip`).
 */
import * as OpenAiCompatible from "../../src/OpenAiCompatible.js"
import { describeConformance } from "../support/chatConformance.js"

describeConformance("deepseek", {
  system: "deepseek",
  profile: OpenAiCompatible.vendors.deepseek!.profile
})
