/* dapr_metadata.h — the Dapr API's metadata: GET /v1.0/metadata (the
 * active actors of each type, an app's types each counted on its own, and
 * the extended entries) and PUT /v1.0/metadata/{key} (sets an extended
 * entry, as daprd's). The entries are bounded: DAPR_EXTENDED_MAX keys of
 * up to 63 bytes, values up to 511. */
#ifndef VA_API_DAPR_METADATA_H
#define VA_API_DAPR_METADATA_H

#include "../http/server.h"
#include "app_channel.h"
#include <pthread.h>

enum {
  VA_DAPR_EXTENDED_MAX = 16,
  VA_DAPR_EXTENDED_KEY_MAX = 63,
  VA_DAPR_EXTENDED_VALUE_MAX = 511,
};

/* What PUT /v1.0/metadata/{key} set: any thread, under lock. */
typedef struct va_dapr_extended {
  pthread_mutex_t lock;
  size_t n;
  struct {
    char key[VA_DAPR_EXTENDED_KEY_MAX + 1];
    char value[VA_DAPR_EXTENDED_VALUE_MAX + 1];
  } items[VA_DAPR_EXTENDED_MAX];
} va_dapr_extended;

/* Empty; nothing to free (the lock is a default one). */
void va_dapr_extended_init(va_dapr_extended *x);

/* GET /v1.0/metadata; x may be NULL (no entries), app too (no app). */
void va_dapr_metadata_get(va_runtime *rt, va_app_channel *app,
                          va_dapr_extended *x, va_http_reply *reply);
/* PUT /v1.0/metadata/{key}: key is the path's segment (not decoded), the
 * body the value. 204; 400 ERR_BAD_REQUEST for a key that is not 1..63 of
 * [A-Za-z0-9._-], a value past 511 bytes or not UTF-8, or a new key past
 * the 16th. */
void va_dapr_metadata_put(va_dapr_extended *x, const char *key,
                          const va_http_request *req, va_http_reply *reply);

#endif
