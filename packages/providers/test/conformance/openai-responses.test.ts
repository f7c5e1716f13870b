/**
 * Conformance of the OpenAI Responses provider against recorded OpenAI traffic (see
 * `support/responsesConformance.ts`; out-of-scope cases are skipped with their reason).
 */
import { describeResponsesConformance } from "../support/responsesConformance.js"

describeResponsesConformance("openai-responses", 50)
