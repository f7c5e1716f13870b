/**
 * Conformance of the openai-chat folder: every Chat Completions interaction replayed through the
 * vendor's real profile (`vendorOf`, by recorded host);
 * other interactions (downloads, MCP, model listings) are skipped with their reason.
 */
import { describeConformance, vendorOf } from "../support/chatConformance.js"

describeConformance("openai-chat", vendorOf("openai-chat"))
