/**
 * Conformance of the deepseek folder: every Chat Completions interaction replayed through the
 * vendor's real profile (`vendorOf`, by recorded host), every Responses interaction through the Responses model;
 * other interactions (downloads, MCP, model listings) are skipped with their reason.
 */
import { describeConformance, vendorOf } from "../support/chatConformance.js"
import { describeResponsesConformance } from "../support/responsesConformance.js"

describeConformance("deepseek", vendorOf("deepseek"))
describeResponsesConformance("deepseek", 7, { onlyResponsesCases: true })
