/**
 * @agentfx/cli — the `agentfx` command line (`agentfx chat --model openai:gpt-4o`), and the chat
 * loop behind it as a library (`Chat.run`).
 *
 * @since 0.1.0
 */
export * as Chat from "./Chat.js"
export * as Cli from "./Cli.js"
