/**
 * Conformance of the OpenAI-compatible client for groq against recorded traffic. Interactions
 * of other endpoints (e.g. `responses`, `models`) are filtered out by the harness: they are
 * other protocols. Request-fidelity skips carry their reason (`fidelitySkip`).
 */
import * as OpenAiCompatible from "../../src/OpenAiCompatible.js"
import { describeConformance } from "../support/chatConformance.js"

describeConformance("groq", { system: "groq", profile: OpenAiCompatible.vendors.groq!.profile })
