/* llm.h — the assistant's optional model: an OpenAI-compatible
 * chat-completions endpoint, called asynchronously (the outbound HTTP
 * client's thread; no worker waits). The task operations are offered to
 * the model as tools; its choice comes back as the same va_intent the
 * rule-based parser makes. */
#ifndef VA_APPS_LLM_H
#define VA_APPS_LLM_H

#include "assistant.h"
#include <jansson.h>
#include <vactor.h>

typedef struct va_llm va_llm;

typedef struct va_llm_config {
  const char *url;   /* e.g. http://127.0.0.1:8080/v1/chat/completions */
  const char *model; /* the "model" field */
  const char *key;   /* sent as Authorization: Bearer; may be NULL */
  long timeout_ms;   /* 0 = 20000; keep it under the call timeout */
} va_llm_config;

/* Copies cfg. */
int va_llm_new(const va_llm_config *cfg, va_llm **out);
/* How long a request may take (the config's timeout_ms, or 20000). */
long va_llm_timeout_ms(const va_llm *llm);
/* Requests still out complete (with VA_ESTOPPED) before it returns. */
void va_llm_free(va_llm *llm);

/* Sends messages (borrowed: [{role, content}...]) with the tools; the
 * outcome goes to ticket: status 0 and the response body, VA_ETIMEDOUT,
 * or VA_EFAILED (an HTTP error) / VA_ESYS (no connection), a failure's
 * data being the HTTP status in decimal ("0" when there was none). ticket
 * is completed in every case, also when this returns an error. */
int va_llm_ask(va_llm *llm, json_t *messages, va_await *ticket);

/* Reads a response body: the first tool call as an intent (kind
 * VA_INTENT_UNKNOWN if none; its times, said at now_ms, in zone), and the
 * model's text (new, may be NULL).
 * call (may be NULL) gets that tool call as the response had it, {id,
 * type, function}, to give back with its result in a second request (new
 * reference; NULL when the intent is unknown or the call has no id).
 * VA_EINVAL if it is not a chat-completions response. */
int va_llm_read(const char *body, size_t len, int64_t now_ms,
                const va_zone *zone, va_intent *intent, char **text,
                json_t **call);

/* The messages of a second request, after the model's tool call: those
 * of the first (borrowed), the model's call (borrowed) and its result,
 * as chat-completions wants them. New; NULL when out of memory. */
json_t *va_llm_after_call(json_t *messages, json_t *call, const char *result);

#endif
