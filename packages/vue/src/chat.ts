/**
 * `@tether/vue/chat`: the Pinia chat store (Pinia is a peer dependency of this entry only).
 * @module
 */
export {
  type ChatEvent,
  type ChatEventType,
  type ChatHistoryMessage,
  type ChatMessage,
  type ChatMessageStatus,
  type ChatSession,
  type ChatStoreOptions,
  defineChatStore,
  useChatStore,
} from './chat-store.js';
