/**
 * @agentfx/providers — real wire-protocol model providers for agentfx, each a Layer providing
 * core's `Model` service over `@effect/platform`'s `HttpClient` (the user picks the transport:
 * `NodeHttpClient.layerUndici` on Node, `FetchHttpClient.layer` elsewhere).
 *
 * @since 0.1.0
 */
export * as Anthropic from "./Anthropic.js"
export * as AnthropicClient from "./AnthropicClient.js"
export * as AnthropicSchema from "./AnthropicSchema.js"
export * as Bedrock from "./Bedrock.js"
export * as BedrockClient from "./BedrockClient.js"
export * as BedrockEmbedding from "./BedrockEmbedding.js"
export * as BedrockMantle from "./BedrockMantle.js"
export * as BedrockSchema from "./BedrockSchema.js"
export * as Cerebras from "./Cerebras.js"
export * as Cohere from "./Cohere.js"
export * as CohereClient from "./CohereClient.js"
export * as CohereEmbedding from "./CohereEmbedding.js"
export * as Google from "./Google.js"
export * as GoogleClient from "./GoogleClient.js"
export * as GoogleAuth from "./GoogleAuth.js"
export * as GoogleEmbedding from "./GoogleEmbedding.js"
export * as GoogleSchema from "./GoogleSchema.js"
export * as Groq from "./Groq.js"
export * as MistralClient from "./MistralClient.js"
export * as Mistral from "./Mistral.js"
export * as ModelRegistry from "./ModelRegistry.js"
export * as OpenAiChat from "./OpenAiChat.js"
export * as OpenAiClient from "./OpenAiClient.js"
export * as OpenAiCompatible from "./OpenAiCompatible.js"
export * as OpenAiEmbedding from "./OpenAiEmbedding.js"
export * as OpenAiResponses from "./OpenAiResponses.js"
export * as OpenAiSchema from "./OpenAiSchema.js"
export * as OpenRouter from "./OpenRouter.js"
export * as Retry from "./Retry.js"
export * as Snowflake from "./Snowflake.js"
export * as VoyageEmbedding from "./VoyageEmbedding.js"
export * as Zai from "./Zai.js"
